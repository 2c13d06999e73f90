// The test provider's own pages: sign-in, consent, sign-out, errors. They replace
// oidc-provider's devInteractions views (unbranded, with a "DEBUG information" panel) with
// plain, readable pages. No script; the only style is the inline sheet below.
//
// The forms keep devInteractions' field names, which tests/support/signin.py posts:
//   sign-in: hidden prompt=login, login, password;   consent: hidden prompt=consent
//   sign-out: oidc-provider's own <form id="op.logoutForm"> (hidden xsrf), and the buttons
//             name=logout value=yes ("Yes, sign me out") and a plain submit ("No, stay ...")

export const escapeHtml = (text) => String(text ?? '')
  .replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE = `
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#f3f4f6;--card:#fff;--line:#d0d7de;--muted:#57606a;
--accent:#1f6f43;--accent-hover:#17573a;--on-accent:#fff;--danger:#b3261e}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--card:#161b22;--line:#30363d;
--muted:#9aa4ae;--accent:#4ac26b;--accent-hover:#6fdd8b;--on-accent:#0d1117;--danger:#ff8a80}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
padding:2rem 1rem;background:var(--bg);color:var(--fg);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.shell{width:100%;max-width:24rem}
.brand{display:flex;align-items:center;gap:.6rem;justify-content:center;margin-bottom:1.25rem;
font-weight:600;font-size:1.1rem}
.mark{width:28px;height:28px;border-radius:50%;background:var(--accent);display:inline-block}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:2rem;
box-shadow:0 1px 3px rgba(0,0,0,.08),0 8px 24px rgba(0,0,0,.06)}
h1{font-size:1.4rem;line-height:1.25;margin:0 0 .5rem}
p{margin:0 0 1rem}.muted{color:var(--muted);font-size:.925rem}
form{display:grid;gap:.5rem;margin:1.25rem 0 0}
label{font-weight:600}label+input{margin-bottom:.5rem}
input[type=text],input[type=password]{width:100%;min-height:2.75rem;padding:.55rem .75rem;
font:inherit;color:var(--fg);background:var(--card);border:1px solid var(--muted);border-radius:8px}
input[aria-invalid=true]{border:2px solid var(--danger)}
button{min-height:2.75rem;padding:.6rem 1rem;border-radius:8px;border:1px solid transparent;
font:inherit;font-weight:600;cursor:pointer;background:var(--accent);color:var(--on-accent)}
button:hover{background:var(--accent-hover)}
button.secondary{background:transparent;color:var(--fg);border-color:var(--line)}
.actions{display:grid;gap:.6rem;margin-top:1.25rem}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.error{color:var(--danger);font-weight:600}
ul.scopes{margin:0 0 1rem;padding-left:1.25rem}
a{color:var(--accent)}
.hint{margin-top:1.25rem;text-align:center;color:var(--muted);font-size:.875rem}
`;

// One page of the provider: its name on top, a card with `body`.
export function page(brand, title, body, hint) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(title)} · ${escapeHtml(brand)}</title>
<style>${STYLE}</style></head>
<body><div class="shell">
<header class="brand"><span class="mark" aria-hidden="true"></span>${escapeHtml(brand)}</header>
<main class="card">${body}</main>
${hint ? `<p class="hint">${escapeHtml(hint)}</p>` : ''}
</div></body></html>`;
}

// The sign-in form; after a refusal the login stays filled in and the password has the focus.
export function loginPage(brand, { action, client, login = '', failed = false, hint }) {
  const invalid = failed ? ' aria-invalid="true" aria-describedby="login-error"' : '';
  const to = client ? `<p class="muted">to continue to ${escapeHtml(client)}</p>` : '';
  const body = `<h1>Sign in</h1>${to}
${failed ? '<p class="error" id="login-error" role="alert">Invalid login or password.</p>' : ''}
<form method="post" action="${escapeHtml(action)}" autocomplete="off">
<input type="hidden" name="prompt" value="login">
<label for="login">Username or e-mail</label>
<input id="login" name="login" type="text" autocomplete="username" autocapitalize="none"
 spellcheck="false" required value="${escapeHtml(login)}"${failed ? '' : ' autofocus'}${invalid}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password"
 required${failed ? ' autofocus' : ''}${invalid}>
<button type="submit">Sign in</button>
</form>`;
  return page(brand, failed ? 'Sign-in failed' : 'Sign in', body, hint);
}

const SCOPES = {
  openid: 'who you are (your account id)',
  email: 'your e-mail address',
  profile: 'your name and username',
  groups: 'the groups you are in',
  phone: 'your phone number',
  offline_access: 'access while you are away',
};

export function consentPage(brand, { action, abort, client, scopes }) {
  const items = scopes.map((s) => `<li>${escapeHtml(SCOPES[s] || s)}</li>`).join('');
  const body = `<h1>Allow ${escapeHtml(client)}?</h1>
<p>${escapeHtml(client)} asks to know:</p><ul class="scopes">${items}</ul>
<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="prompt" value="consent">
<button type="submit" autofocus>Continue</button>
</form>
<p class="actions"><a href="${escapeHtml(abort)}">Cancel</a></p>`;
  return page(brand, 'Allow access', body);
}

export function logoutPage(brand, form) {
  const body = `<h1>Sign out of ${escapeHtml(brand)}?</h1>
<p class="muted">You will be signed out of every application that uses this account.</p>
${form}
<div class="actions">
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button class="secondary" type="submit" form="op.logoutForm">No, stay signed in</button>
</div>`;
  return page(brand, 'Sign out', body);
}

export function signedOutPage(brand) {
  return page(brand, 'Signed out', `<h1>You are signed out</h1>
<p class="muted">You have been signed out of ${escapeHtml(brand)}.</p>`);
}

// An error from the provider (out: {error, error_description}); never a stack or debug dump.
export function errorPage(brand, out) {
  const described = out.error_description
    ? `<p>${escapeHtml(out.error_description)}</p>` : '';
  return page(brand, 'Sign-in problem', `<h1>Something went wrong</h1>${described}
<p class="muted">Error: <code>${escapeHtml(out.error || 'server_error')}</code>.
Go back to the application and try again.</p>`);
}
