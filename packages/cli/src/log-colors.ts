/**
 * Whether the pretty log format may colour its output on `stream`: never when NO_COLOR is set
 * (https://no-color.org), always when FORCE_COLOR asks for it (as `s3relay dev` does for the
 * services whose output it shows on its terminal), otherwise only on a terminal.
 */
export function logColors(env: NodeJS.ProcessEnv, stream: { isTTY?: boolean }): boolean {
  if ((env.NO_COLOR ?? '') !== '') return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  return stream.isTTY === true;
}
