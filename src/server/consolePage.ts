/**
 * The console's HTML and CSS. They live in the package as code so the build
 * (tsc) ships them with no copy step; the script is `dist/console/*.js`,
 * compiled from `src/console/`. Nothing is loaded from elsewhere (strict CSP).
 */
/** The console page, served at `/`. */
export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ttp-rules console</title>
<link rel="stylesheet" href="/assets/console.css">
<script type="module" src="/assets/app.js"></script>
</head>
<body>
<header>
  <h1>ttp-rules</h1>
  <input id="filter" type="search" placeholder="Filter by id, name, kind, state…" aria-label="Filter rules">
  <span id="count"></span>
  <span id="conn" class="conn down" title="change stream"><i></i><span>connecting…</span></span>
  <span id="who"></span>
  <button id="logout" type="button" hidden>Log out</button>
</header>
<main>
  <form id="login" hidden>
    <h2>Log in</h2>
    <p>Paste an API token (<code>ttp-rules token add &lt;name&gt; operator --tokens FILE</code>).</p>
    <input id="token" type="password" autocomplete="off" placeholder="ttp_…" aria-label="Token">
    <button type="submit">Log in</button>
    <p id="login-error" class="error"></p>
  </form>
  <p id="notice" class="notice" hidden></p>
  <table id="rules" hidden>
    <thead><tr><th>Rule</th><th>Name</th><th>Kinds</th><th>State</th><th>Ceiling</th><th>Expires</th><th>Reason</th><th>Set by</th><th class="actions-head">Actions</th></tr></thead>
    <tbody></tbody>
  </table>
</main>
<aside id="drawer" hidden>
  <div class="drawer-head"><h2 id="drawer-title"></h2><button id="drawer-close" type="button" aria-label="Close">×</button></div>
  <pre id="drawer-error" class="error" hidden></pre>
  <ol id="drawer-list"></ol>
</aside>
<dialog id="action">
  <form method="dialog" id="action-form">
    <h2 id="action-title"></h2>
    <label id="ceiling-row">Ceiling <input id="ceiling" type="number" min="0" max="1" step="0.05" value="0.5"></label>
    <label id="for-row">For <select id="for">
      <option value="10">10 minutes</option><option value="60">1 hour</option><option value="240">4 hours</option>
      <option value="1440">1 day</option><option value="0">until changed</option></select></label>
    <label>Reason <input id="reason" type="text" maxlength="4096" placeholder="why (recorded in the log)"></label>
    <p id="action-error" class="error"></p>
    <div class="buttons"><button value="cancel" type="button" id="action-cancel">Cancel</button><button value="ok" id="action-ok" class="primary">Apply</button></div>
  </form>
</dialog>
</body>
</html>
`;

/** The console's stylesheet, served at `/assets/console.css`. */
export const CONSOLE_CSS = `
:root { --bg:#f6f7f9; --fg:#1d2330; --muted:#6b7385; --line:#e1e4ea; --head:#17202f; --ok:#1f8a4c; --off:#b42318; --clip:#b5710b; --hl:#fff4c2; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; gap:14px; align-items:center; padding:10px 18px; background:var(--head); color:#fff; position:sticky; top:0; z-index:2; }
header h1 { font-size:16px; margin:0 8px 0 0; letter-spacing:.02em; }
#filter { flex:0 1 340px; padding:6px 10px; border-radius:6px; border:1px solid #3a4558; background:#223049; color:#fff; }
#count, #who { color:#aeb7c8; font-size:13px; }
#who { margin-left:auto; }
.conn { display:inline-flex; align-items:center; gap:6px; font-size:13px; color:#d5dbe6; }
.conn i { width:9px; height:9px; border-radius:50%; background:#c0392b; display:inline-block; }
.conn.live i { background:#2ecc71; box-shadow:0 0 6px #2ecc71; }
button { font:inherit; padding:4px 10px; border-radius:6px; border:1px solid var(--line); background:#fff; cursor:pointer; }
button:hover { border-color:#9aa3b5; }
button.primary { background:#2a5bd7; border-color:#2a5bd7; color:#fff; }
header button { background:transparent; color:#d5dbe6; border-color:#3a4558; }
main { padding:16px 18px; }
table { width:100%; border-collapse:collapse; background:#fff; border:1px solid var(--line); border-radius:8px; overflow:hidden; }
th, td { text-align:left; padding:7px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#eef0f4; font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
td.id a { font-family:ui-monospace, SFMono-Regular, Menlo, monospace; font-size:12.5px; color:#2a5bd7; text-decoration:none; }
td.kinds span { display:inline-block; background:#eef0f4; border-radius:4px; padding:0 6px; margin:0 3px 2px 0; font-size:12px; }
.badge { display:inline-block; border-radius:10px; padding:0 9px; font-size:12px; font-weight:600; color:#fff; }
.badge.enabled { background:var(--ok); } .badge.disabled { background:var(--off); } .badge.clipped { background:var(--clip); }
td.muted, .muted { color:var(--muted); font-size:12.5px; }
td.actions, td.expires, td.setby, td.state { white-space:nowrap; }
td.actions button { padding:2px 8px; font-size:12px; margin-right:3px; }
tr.invalid td { background:#fdecea; }
tr.invalid .error { color:var(--off); font-size:12.5px; }
tr.changed td { animation: flash 2.5s ease-out; }
@keyframes flash { from { background:var(--hl); } to { background:transparent; } }
.error { color:var(--off); }
.notice { background:#fff4c2; border:1px solid #ecd98b; padding:8px 12px; border-radius:6px; }
#login { max-width:420px; margin:60px auto; background:#fff; padding:24px; border:1px solid var(--line); border-radius:10px; }
#login input { width:100%; padding:8px; margin:8px 0 12px; }
aside#drawer { position:fixed; top:0; right:0; bottom:0; width:420px; background:#fff; border-left:1px solid var(--line); box-shadow:-6px 0 24px rgba(0,0,0,.08); padding:14px 18px; overflow:auto; z-index:3; }
.drawer-head { display:flex; justify-content:space-between; align-items:center; }
.drawer-head h2 { font-size:15px; margin:0; font-family:ui-monospace, monospace; }
#drawer-list { padding-left:0; list-style:none; }
#drawer-list li { border-bottom:1px solid var(--line); padding:7px 0; font-size:13px; }
#drawer-list .pos { font-family:ui-monospace, monospace; color:var(--muted); margin-right:6px; }
dialog { border:1px solid var(--line); border-radius:10px; padding:18px 20px; min-width:340px; }
dialog h2 { font-size:15px; margin:0 0 12px; }
dialog label { display:block; margin:8px 0; font-size:13px; color:var(--muted); }
dialog input, dialog select { display:block; width:100%; padding:6px; margin-top:3px; font:inherit; color:var(--fg); }
dialog .buttons { display:flex; justify-content:flex-end; gap:8px; margin-top:14px; }
`;
