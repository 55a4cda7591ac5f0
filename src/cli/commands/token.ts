import { Argument, type Command } from 'commander';
import { addToken, API_ROLES, type ApiRole } from '../../server/apiTokens.js';
import { addCommonOptions } from '../context.js';
import { printJson, printLine, printStatus } from '../output.js';
import type { ActionRunner } from '../program.js';

interface TokenAddOptions {
  tokens: string;
  json?: boolean;
}

/** `ttp-rules token add <name> <role>`: a new API token, printed once; only its SHA-256 is stored. */
export function registerToken(program: Command, run: ActionRunner): void {
  const token = program.command('token').description('manage the API tokens of `ttp-rules serve`');
  const add = token
    .command('add')
    .description('create a token, append name, role and SHA-256 to the tokens file, and print the token once')
    .argument('<name>', 'who the token is for (recorded as the actor of every change made with it)')
    .addArgument(new Argument('<role>', 'reader: read and follow; operator: also change states; author: also change rules').choices(API_ROLES))
    .option('--tokens <file>', 'the tokens file', 'tokens.txt')
    .addHelpText(
      'after',
      `
Examples:
  $ ttp-rules token add alice operator --tokens tokens.txt
  $ ttp-rules serve --tokens tokens.txt`,
    );
  addCommonOptions(add, { database: false }).action(
    run(async (name: string, role: ApiRole, options: TokenAddOptions) => {
      const secret = await addToken(options.tokens, name, role);
      if (options.json) printJson({ name, role, token: secret, tokens: options.tokens });
      else {
        printLine(secret);
        printStatus(`added ${name} (${role}) to ${options.tokens}: the token above is shown only this once`);
      }
      return 0;
    }),
  );
}
