/** The HTTP server's public surface (re-exported by src/index.ts). */
export { createRuleServer, type RuleServerOptions, type RuleServerResult } from './createRuleServer.js';
export { readTokensFile, parseTokensFile, addToken, hashToken, API_ROLES, type ApiToken, type ApiRole } from './apiTokens.js';
