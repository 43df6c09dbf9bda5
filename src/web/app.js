// app: starts the console: asks who is signed in (GET /v1/session), shows the sign-in screen or
// the screen of the user's role, and wires the language switch and sign-out. To add a screen:
// write src/web/<screen>.js exporting render<Screen>(main, me) and add it to SCREENS.
import { call, setCsrf } from './api.js';
import { el, say } from './dom.js';
import { getLang, setLang, t } from './i18n.js';
import { renderAuditor } from './auditor.js';
import { renderIati } from './iati.js';
import { renderInbox } from './inbox.js';
import { renderInvestor } from './investor.js';
import { renderManager } from './manager.js';
import { renderLogin } from './login.js';

// The screen each role sees first. Roles missing here see a short notice.
const SCREENS = { approver: renderInbox, investor: renderInvestor, transparency_officer: renderIati,
  auditor: renderAuditor, fund_manager: renderManager };

let me = null;

function header() {
  document.getElementById('skip-link').textContent = t('skip');
  for (const l of ['es', 'en']) {
    document.getElementById('lang-' + l).setAttribute('aria-pressed', String(getLang() === l));
  }
  const who = document.getElementById('who');
  const logout = document.getElementById('logout');
  who.textContent = me ? `${t('signed_in_as')} ${me.user.name} (${me.user.role})` : '';
  logout.textContent = t('signout');
  logout.hidden = !me;
}

async function show() {
  const main = document.getElementById('main');
  header();
  if (!me) {
    renderLogin(main, (m) => { me = m; show(); });
    return;
  }
  const screen = SCREENS[me.user.role];
  try {
    if (screen) await screen(main, me);
    else main.replaceChildren(el('p', { text: t('no_screen') }));
  } catch (e) {
    if (e.status === 401) {
      me = null;
      return show();
    }
    main.replaceChildren(el('p', { class: 'error', role: 'alert', text: `${t('error')}: ${e.message}` }));
  }
}

async function start() {
  setLang(getLang());
  for (const l of ['es', 'en']) {
    document.getElementById('lang-' + l).addEventListener('click', () => { setLang(l); show(); });
  }
  document.getElementById('logout').addEventListener('click', async () => {
    try {
      await call('DELETE', '/v1/session');
    } catch (e) {
      say(e.message, 'error');
    }
    me = null;
    setCsrf(null);
    show();
  });
  try {
    me = await call('GET', '/v1/session');
    setCsrf(me.csrf_token);
  } catch (_) {
    me = null;
  }
  show();
}

start();
