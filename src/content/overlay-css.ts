// The badge layer's style sheet, inside its closed shadow root: badges, the covers of suspected
// pictures (blur or hide) and the card, light and dark. The page's styles never reach it.

export const OVERLAY_CSS = `
:host { all: initial; }
.badge {
  position: absolute; left: 0; top: 0; box-sizing: border-box; max-width: 240px; margin: 0; border: 0;
  padding: 3px 7px; border-radius: 10px; pointer-events: auto; text-align: left;
  font: 600 11px/16px system-ui, -apple-system, "Segoe UI", sans-serif; white-space: pre;
  display: flex; color: #fff; background: #475569;
  box-shadow: 0 1px 3px rgba(0,0,0,.35); cursor: pointer; user-select: none; z-index: 2;
}
.badge .words { overflow: hidden; text-overflow: ellipsis; min-width: 0; }
.badge .score, .badge .declared { flex: none; }
.card .evidence { border-left: 3px solid #7c3aed; padding-left: 8px; white-space: pre-line; }
.badge:focus-visible { outline: 2px solid #fff; box-shadow: 0 0 0 4px #1d4ed8; }
.badge[data-state="generated"] { background: #b91c1c; }
.badge[data-state="real"] { background: #15803d; opacity: .85; }
.badge[data-state="failed"] { background: #92400e; }
.badge[data-state="checking"] { background: #334155; opacity: .8; }
.cover {
  position: absolute; left: 0; top: 0; box-sizing: border-box; pointer-events: auto; cursor: pointer; z-index: 1;
  display: flex; align-items: center; justify-content: center; text-align: center; padding: 8px;
  font: 600 12px/16px system-ui, -apple-system, "Segoe UI", sans-serif; color: #fff; border: 0; margin: 0;
}
.cover[data-mode="blur"] { backdrop-filter: blur(24px) saturate(.6); -webkit-backdrop-filter: blur(24px); background: rgba(15,23,42,.25); }
.cover[data-mode="hide"] { background: #1e293b; }
.card {
  position: absolute; left: 0; top: 0; box-sizing: border-box; width: 320px; max-width: calc(100vw - 16px); z-index: 3;
  padding: 10px 12px; border-radius: 10px; pointer-events: auto; background: #fff; color: #0f172a;
  font: 400 12px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; box-shadow: 0 6px 24px rgba(0,0,0,.3);
  border: 1px solid #cbd5e1; white-space: normal;
}
.card h2 { font: 700 13px/1.3 inherit; margin: 0 0 6px; font-family: inherit; }
.card p { margin: 0 0 6px; }
.card .warning { background: #fef3c7; color: #78350f; padding: 6px 8px; border-radius: 6px; font-weight: 600; }
.card .bar { height: 6px; border-radius: 3px; background: #e2e8f0; margin: 0 0 8px; position: relative; overflow: hidden; }
.card .bar span { position: absolute; left: 0; top: 0; bottom: 0; background: #b91c1c; }
.card .bar i { position: absolute; top: -2px; bottom: -2px; width: 2px; background: #0f172a; }
.card .actions { display: flex; gap: 6px; flex-wrap: wrap; margin-top: 4px; }
.card button { font: 600 12px/1 inherit; font-family: inherit; padding: 6px 9px; border-radius: 6px; border: 1px solid #94a3b8; background: #f8fafc; color: #0f172a; cursor: pointer; }
.card button:focus-visible { outline: 2px solid #1d4ed8; outline-offset: 1px; }
.card [data-reported="true"] { background: #dcfce7; border-color: #15803d; }
@media (prefers-color-scheme: dark) {
  .card { background: #0f172a; color: #e2e8f0; border-color: #334155; }
  .card .warning { background: #451a03; color: #fde68a; }
  .card .bar { background: #334155; }
  .card .bar i { background: #e2e8f0; }
  .card button { background: #1e293b; color: #e2e8f0; border-color: #475569; }
}
[hidden], .badge[data-off="true"] { display: none !important; }
`;
