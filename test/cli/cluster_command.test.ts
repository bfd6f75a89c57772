import test from 'ava';
import { restartHint } from '../../src/cli/cluster_command.js';

test("cluster up's restart hint for a node that exited does not echo the token", (t) => {
  const hint = restartHint(['--port', '7701', '--token', 's3cret', '--spin-us', '0']);
  t.is(hint, '--port 7701 --token <token> --spin-us 0');
  t.false(hint.includes('s3cret'));
});
