// The console's static document and stylesheet, kept as strings so `tsc` output needs no asset copy.
// Nothing here is built per user: the document is an empty shell the script fills with textContent.

/** `basePath` is where the router is mounted (e.g. "/console"); it is a constant of the server, never request data. */
export function consoleDocument(basePath: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Tokengate console</title>
<link rel="icon" href="${basePath}/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${basePath}/console.css">
<script type="module" src="${basePath}/console.js"></script>
</head>
<body>
<header class="bar">
<a class="brand" href="#/marketplace">Tokengate</a>
<div id="session" class="session" hidden></div>
</header>
<main id="main"><p class="muted">Loading…</p></main>
<noscript><p>The Tokengate console needs JavaScript.</p></noscript>
</body>
</html>
`;
}

export const CONSOLE_FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f4e79"/><path d="M4 5h8v2H9v5H7V7H4z" fill="#fff"/></svg>`;

export const CONSOLE_STYLES = `
:root{--fg:#1b1f24;--muted:#5b6470;--line:#d8dde3;--bg:#f6f7f9;--card:#fff;--accent:#1f4e79;--ok:#16653a;--okbg:#dcf3e4;--warn:#7a4b00;--warnbg:#fdf0d5;--bad:#9b1c1c;--badbg:#fde2e2}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
.bar{display:flex;align-items:center;gap:16px;padding:10px 24px;background:var(--accent);color:#fff}
.brand{color:#fff;font-weight:700;font-size:16px;text-decoration:none}
.session{display:flex;align-items:center;gap:10px;margin-left:auto;flex-wrap:wrap}
.session select{max-width:220px}
.session .who{opacity:.9}
main{max-width:1200px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:22px;margin:4px 0 8px}
h2{font-size:16px;margin:28px 0 8px;display:flex;align-items:center;gap:10px}
a{color:var(--accent)}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:16px 20px}
.narrow{max-width:460px;margin:48px auto}
.muted{color:var(--muted)}
.toolbar{display:flex;gap:8px;margin:12px 0;flex-wrap:wrap}
input,select,button{font:inherit;padding:6px 8px;border:1px solid var(--line);border-radius:4px;background:#fff;color:var(--fg)}
input[type=search]{flex:1;min-width:240px}
.stack{display:flex;flex-direction:column;gap:10px}
.stack label{display:flex;flex-direction:column;gap:4px;font-weight:600}
button{cursor:pointer;background:var(--accent);color:#fff;border-color:var(--accent)}
button.secondary{background:#fff;color:var(--accent)}
button:disabled{opacity:.6;cursor:default}
.bar button{background:transparent;color:#fff;border-color:#ffffff80}
table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line)}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#eef1f4;font-weight:600;white-space:nowrap}
tbody th{background:none}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
.chip{display:inline-block;padding:0 7px;margin:0 4px 2px 0;border-radius:10px;background:#e7ecf2;font-size:12px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:700;background:#e7ecf2}
.badge.DEPLOYED,.badge.ok{background:var(--okbg);color:var(--ok)}
.badge.PENDING,.badge.IN_PROGRESS,.badge.connecting,.badge.reconnecting{background:var(--warnbg);color:var(--warn)}
.badge.FAILED,.badge.REMOVED,.badge.down{background:var(--badbg);color:var(--bad)}
.badge.live{background:var(--okbg);color:var(--ok)}
.error{border:1px solid #f1b5b5;background:var(--badbg);color:var(--bad);padding:10px 12px;border-radius:4px;margin:12px 0}
.error strong{margin-right:6px}
.meta{display:flex;gap:8px;flex-wrap:wrap;align-items:center;color:var(--muted)}
.keys{border:2px solid #e0a800;background:#fffaf0;border-radius:6px;padding:12px 16px;margin-top:12px}
.keys table{margin:8px 0}
.keys code{background:#fff;padding:2px 4px;border:1px solid var(--line);border-radius:3px}
.row{display:flex;gap:8px;align-items:center;flex-wrap:wrap}
`;
