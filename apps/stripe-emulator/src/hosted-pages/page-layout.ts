/**
 * What the hosted pages share: one self-contained HTML layout (inline style, no scripts, no
 * external assets; its CSP allows nothing else) and escaping for what they show.
 */
/** A hosted page's answer. */
export interface PageResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
  :root { color-scheme: light dark; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  body { margin: 0; background: Canvas; color: CanvasText; }
  main { max-width: 28rem; margin: 3rem auto; padding: 1.5rem 2rem; border: 1px solid #8884; border-radius: 12px; }
  .badge { display: inline-block; padding: .1rem .5rem; border-radius: 4px; background: #ffb100; color: #000; font-size: .8rem; font-weight: 600; }
  h1 { font-size: 1.4rem; margin: .8rem 0; }
  dl { display: grid; grid-template-columns: auto 1fr; gap: .4rem 1rem; margin: 1rem 0 1.5rem; }
  dt { font-weight: 600; } dd { margin: 0; text-align: right; }
  .total { font-size: 1.2rem; }
  .actions { display: flex; gap: .75rem; }
  .actions form { flex: 1; margin: 0; }
  button { width: 100%; padding: .75rem; font-size: 1rem; border-radius: 8px; border: 1px solid #8886; cursor: pointer; }
  button:focus-visible { outline: 3px solid #635bff; outline-offset: 2px; }
  #pay { background: #635bff; color: #fff; border-color: #635bff; }
  #cancel { background: transparent; color: inherit; }
  label { display: block; font-weight: 600; margin-bottom: .3rem; }
  select { width: 100%; padding: .5rem; font-size: 1rem; border-radius: 8px; margin-bottom: 1rem; }
  .error { color: #d93025; font-weight: 600; }
`;

export function page(status: number, title: string, content: string): PageResult {
  const body = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<span class="badge" role="note">Test mode (Stripe emulator)</span>
${content}
</main>
</body>
</html>
`;
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
    },
    body,
  };
}

export function messagePage(status: number, title: string, message: string): PageResult {
  return page(status, title, `<h1>${escapeHtml(title)}</h1>\n<p role="status">${escapeHtml(message)}</p>`);
}
