// auditor: the auditor's screen: the trial balance (GET /v1/funds/{id}/trial-balance), a journal
// browser by account and dates (GET /v1/funds/{id}/entries?account_id=&from=&to=, paged) and the
// audit log (GET /v1/audit?fund_id=, paged), and the result of the last verify
// (GET /v1/verify-runs) with a button to run it now (POST /v1/verify-runs: it records the run,
// and changes nothing of the books).
import { call } from './api.js';
import { el, say, table } from './dom.js';
import { formatAmount, formatDate, formatDateTime, t } from './i18n.js';

const PAGE = 50;

function trialBalance(fund, tb) {
  const cur = fund.base_currency;
  const f = (v, c) => (v === undefined || v === null ? '—' : formatAmount(v, c || cur));
  const rows = (tb.accounts || []).map((a) => ({ id: `tb-${a.code}`, cells: [[a.code, 'code'], [a.name || '', 'name'],
    [f(a.debit, a.currency), 'debit'], [f(a.credit, a.currency), 'credit']] }));
  for (const s of tb.totals || []) {
    rows.push({ id: `tb-total-${s.currency}`, cells: [[`${t('total')} ${s.currency}`, 'code'], [`${t('difference')}: ${f(s.difference, s.currency)}`, 'name'],
      [f(s.debit, s.currency), 'debit'], [f(s.credit, s.currency), 'credit']] });
  }
  return table('trial-balance', t('trial_balance'), [t('account_code'), t('account_name'), t('debit'), t('credit')], rows);
}

function entryRows(cur, entries) {
  const rows = [];
  for (const e of entries) {
    for (const l of e.lines || []) {
      rows.push({ id: `entry-${e.id}-${l.line_no}`, cells: [[`#${e.id}`, 'entry'], [formatDate(e.effective_date), 'date'],
        [e.memo || '', 'memo'], [l.account_code || String(l.account_id), 'account'],
        [l.debit ? formatAmount(l.debit, l.currency || cur) : '', 'debit'],
        [l.credit ? formatAmount(l.credit, l.currency || cur) : '', 'credit']] });
    }
  }
  return rows;
}

async function journal(fund) {
  const { accounts = [] } = await call('GET', `/v1/funds/${fund.id}/accounts`);
  const account = el('select', { id: 'j-account' }, el('option', { value: '', text: t('all_accounts') }),
    accounts.map((a) => el('option', { value: String(a.id), text: `${a.code} ${a.name || ''}` })));
  const from = el('input', { id: 'j-from', type: 'date' });
  const to = el('input', { id: 'j-to', type: 'date' });
  const out = el('div', { id: 'journal-out' });
  const more = el('button', { type: 'button', id: 'j-more', hidden: true, text: t('more') });
  let after = 0;
  let rows = [];
  const load = async (reset) => {
    if (reset) { after = 0; rows = []; }
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (account.value) q.set('account_id', account.value);
    if (from.value) q.set('from', from.value);
    if (to.value) q.set('to', to.value);
    if (after) q.set('after', String(after));
    try {
      const data = await call('GET', `/v1/funds/${fund.id}/entries?${q}`);
      rows = rows.concat(entryRows(fund.base_currency, data.entries || []));
      after = data.next_after || 0;
      more.hidden = !after;
      out.replaceChildren(rows.length
        ? table('journal', t('journal'), [t('j_entry'), t('date'), t('memo'), t('account_code'), t('debit'), t('credit')], rows)
        : el('p', { id: 'journal-empty', text: t('no_entries') }));
    } catch (e) {
      out.replaceChildren(el('p', { class: 'error', role: 'alert', text: `${t('error')}: ${e.message}` }));
    }
  };
  more.addEventListener('click', () => load(false));
  const form = el('form', { id: 'journal-form', class: 'filters' },
    el('div', {}, el('label', { for: 'j-account', text: t('account') }), account),
    el('div', {}, el('label', { for: 'j-from', text: t('from') }), from),
    el('div', {}, el('label', { for: 'j-to', text: t('to') }), to),
    el('div', {}, el('button', { type: 'submit', id: 'j-show', text: t('show') })));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(true); });
  return [form, out, more];
}

async function auditLog(fund) {
  const out = el('div', { id: 'audit-out' });
  const more = el('button', { type: 'button', id: 'audit-more', text: t('more') });
  let after = 0;
  let rows = [];
  const load = async () => {
    const data = await call('GET', `/v1/audit?fund_id=${fund.id}&limit=${PAGE}${after ? '&after=' + after : ''}`);
    rows = rows.concat((data.events || []).map((e) => ({ id: `audit-${e.id}`, cells: [[`#${e.id}`, 'id'],
      [formatDateTime(e.at), 'at'], [(e.user && typeof e.user === 'object' ? e.user.name : e.user) || (e.user_id ? `#${e.user_id}` : '—'), 'user'], [e.action || '', 'action'],
      [`${e.object_type || ''} ${e.object_id || ''}`, 'object']] })));
    after = data.next_after || 0;
    more.hidden = !after;
    out.replaceChildren(table('audit', t('audit_log'), ['#', t('date'), t('user'), t('action'), t('object')], rows));
  };
  more.addEventListener('click', load);
  await load();
  return [out, more];
}

// One run as the screen shows it: when, by whom and how, what was checked, ok or each finding.
function runDetail(run) {
  const ok = run.ok === true;
  const via = run.via === 'cli' ? t('verify_via_cli') : t('verify_via_api');
  const findings = run.findings || [];
  return el('div', { id: 'verify-last' },
    el('p', { id: 'verify-result', class: ok ? 'ok' : 'error', role: ok ? null : 'alert' },
      el('strong', { text: ok ? t('verify_ok') : t('verify_failed') }),
      ok ? '' : ` (${run.problems_total} ${t('verify_problems')})`),
    el('dl', { class: 'facts' },
      el('dt', { text: t('verify_when') }), el('dd', { id: 'verify-when', text: formatDateTime(run.finished_at) }),
      el('dt', { text: t('verify_by') }), el('dd', { id: 'verify-by', text: `${run.run_by} (${via})` }),
      el('dt', { text: t('verify_entries') }), el('dd', { id: 'verify-entries', text: String(run.origins_checked) }),
      el('dt', { text: t('verify_chain') }),
      el('dd', { id: 'verify-chain', text: `${run.entries_checked} / ${run.entries_unsealed} / ${run.accounts_checked} / ${run.anchors_checked}` })),
    findings.length ? el('ul', { id: 'verify-findings' },
      findings.map((f, i) => el('li', { id: `verify-finding-${i}` },
        f.entry_id ? `${t('j_entry')} #${f.entry_id}: ` : '', f.text))) : '',
    findings.length < (run.problems_total || 0)
      ? el('p', { class: 'hint', text: `${t('verify_listed')} ${findings.length} / ${run.problems_total}` }) : '');
}

function runsTable(runs) {
  return table('verify-runs', t('verify_history'), ['#', t('verify_when'), t('verify_by'), t('verify_entries'), t('verify_result')],
    runs.map((r) => ({ id: `verify-run-${r.id}`, cells: [[`#${r.id}`, 'id'], [formatDateTime(r.finished_at), 'at'],
      [`${r.run_by} (${r.via === 'cli' ? t('verify_via_cli') : t('verify_via_api')})`, 'user'],
      [String(r.origins_checked), 'count'], [r.ok ? t('verify_ok') : t('verify_failed'), 'result']] })));
}

async function verifySection() {
  const out = el('div', { id: 'verify-out', 'aria-live': 'polite' });
  const run = el('button', { type: 'button', id: 'verify-run', text: t('verify_run') });
  const show = async () => {
    const data = await call('GET', '/v1/verify-runs?limit=5');
    out.replaceChildren(data.latest ? runDetail(data.latest) : el('p', { id: 'verify-never', text: t('verify_never') }),
      (data.runs || []).length ? runsTable(data.runs) : '');
  };
  run.addEventListener('click', async () => {
    run.disabled = true;
    say(t('verify_running'));
    try {
      const r = await call('POST', '/v1/verify-runs', {}, { idempotent: true });
      say(r.ok ? t('verify_ok') : t('verify_failed'), r.ok ? 'info' : 'error');
      await show();
    } catch (e) {
      say(`${t('error')}: ${e.message}`, 'error');
    } finally {
      run.disabled = false;
    }
  });
  try {
    await show();
  } catch (e) {
    out.replaceChildren(el('p', { class: 'error', role: 'alert', text: `${t('error')}: ${e.message}` }));
  }
  return el('section', { class: 'card', id: 'verify', 'aria-labelledby': 'verify-h' },
    el('h2', { id: 'verify-h', text: t('verify_title') }), el('p', { class: 'hint', text: t('verify_hint') }), out, run);
}

async function fundSection(fund) {
  const tb = await call('GET', `/v1/funds/${fund.id}/trial-balance`);
  return el('section', { class: 'card', 'aria-labelledby': `fund-h-${fund.id}` },
    el('h2', { id: `fund-h-${fund.id}`, text: fund.name }),
    el('h3', { text: t('trial_balance') }), trialBalance(fund, tb),
    el('h3', { text: t('journal') }), await journal(fund),
    el('h3', { text: t('audit_log') }), await auditLog(fund));
}

export async function renderAuditor(main) {
  main.replaceChildren(el('h1', { text: t('auditor_title') }), el('p', { text: t('loading') }));
  const { funds = [] } = await call('GET', '/v1/funds');
  const sections = [await verifySection()];
  for (const f of funds) sections.push(await fundSection(f));
  main.replaceChildren(el('h1', { text: t('auditor_title') }), ...sections);
}
