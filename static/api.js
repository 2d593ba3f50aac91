// The console's own HTTP API (token, rebuild, dispatch) and the name rules it enforces, checked
// here first so the user gets the message before a round trip.

const ACCESS_KEY_HEADER = 'X-Access-Key';
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const NAME_MAX = 64;
const FIELDS = [
  ['room', 'room'],
  ['identity', 'identity'],
  ['agent', 'agent name'],
];

/** What is wrong with the form before connecting, or '' when nothing is. */
export function formProblem(form, accessKeyRequired) {
  for (const [key, field] of FIELDS) {
    const value = form[key];
    if (!value) return `${field} is required`;
    if (value.length > NAME_MAX) return `${field} is too long (at most ${NAME_MAX} characters)`;
    if (!NAME_PATTERN.test(value)) {
      return `${field} may only use letters, digits, '_', '.' and '-' and must start with a letter or digit`;
    }
  }
  if (accessKeyRequired && !form.accessKey) return 'access key is required';
  return '';
}

/** POST JSON; resolves to the answer's JSON, throws Error(message from the server) with
 *  `status` set for an HTTP error. */
export async function postJson(path, body, accessKey) {
  const headers = { 'Content-Type': 'application/json' };
  if (accessKey) headers[ACCESS_KEY_HEADER] = accessKey;
  const response = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const err = new Error(data.error || `HTTP ${response.status}`);
    err.status = response.status;
    throw err;
  }
  return data;
}
