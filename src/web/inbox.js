// inbox: the approver's screen: pending proposals oldest first, each in human terms, approve or
// reject with a reason, and the result (GET /v1/approvals, POST /v1/approvals/{id}/approve|reject).
import { call } from './api.js';
import { el, say } from './dom.js';
import { compareAmounts, formatAmount, formatDate, formatDateTime, formatRate, t } from './i18n.js';

// For a drawdown: the loan and its borrower (GET /v1/loans/{id}, /v1/entrepreneurs/{id}).
async function drawdownDetails(p) {
  const loanId = p.payload && p.payload.loan_id;
  if (!loanId) return [];
  const loan = await call('GET', `/v1/loans/${loanId}`);
  let borrower = `#${loan.entrepreneur_id}`;
  try {
    const ent = await call('GET', `/v1/entrepreneurs/${loan.entrepreneur_id}`);
    borrower = ent.name || ent.display_name || borrower;
  } catch (_) {
    /* shown by id */
  }
  const terms = `${t('principal')} ${formatAmount(loan.principal, loan.currency)}, ${t('rate')} ` +
    `${formatRate(loan.annual_rate)}, ${loan.term_count} ${t('payments')} (${loan.payments_per_year} ${t('per_year')})`;
  const conditions = (loan.conditions || []).map((c) => `${t('c_' + c.item)} (${formatDate(c.done_on)})`).join('; ');
  const funding = (loan.funding || []).map((f) => `${f.tranche}: ${formatAmount(f.share, loan.currency)}`).join('; ');
  return [
    [t('borrower'), borrower, 'borrower'],
    [t('terms'), terms, 'terms'],
    [t('drawn'), formatAmount(loan.drawn, loan.currency), 'drawn'],
    [t('conditions'), conditions || '—', 'conditions'],
    [t('funding'), funding || '—', 'funding'],
    [t('value_date'), formatDate(p.payload.value_date), 'value-date'],
  ];
}

function decisionText(res) {
  if (res.status === 'approved') {
    return t('approved') + (res.result_entry_id ? ` — ${t('entry')} #${res.result_entry_id}` : '');
  }
  if (res.status === 'rejected') return t('rejected');
  return t('pending_second');
}

// Whether the amount is within the approver's limit in its currency (decimal strings, no float).
function limitText(p, limits) {
  const limit = limits[p.currency];
  if (limit === undefined) return `${t('no_limit')} ${p.currency}`;
  return compareAmounts(p.amount, limit) <= 0 ? t('within_limit') : t('over_limit');
}

async function card(p, limits) {
  const id = p.id;
  const rows = [
    [t('kind'), t('k_' + p.kind), 'kind'],
    [t('amount'), formatAmount(p.amount, p.currency), 'amount'],
    [t('proposed_by'), p.proposed_by.name, 'proposed-by'],
    [t('proposed_at'), formatDateTime(p.proposed_at), 'proposed-at'],
  ];
  if (p.kind === 'disbursement') rows.push(...(await drawdownDetails(p)));
  rows.push([t('limit_check'), limitText(p, limits), 'limit']);
  const reason = el('textarea', { id: `reason-${id}`, rows: '2', maxlength: '500' });
  const result = el('p', { id: `result-${id}`, class: 'result', role: 'status' });
  const decide = async (approve) => {
    const body = {};
    if (reason.value.trim()) body.reason = reason.value.trim();
    if (!approve && !body.reason) {
      result.textContent = t('reason_needed');
      reason.focus();
      return;
    }
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const res = await call('POST', `/v1/approvals/${id}/${approve ? 'approve' : 'reject'}`, body, { idempotent: true });
      result.textContent = decisionText(res);
      result.dataset.kind = 'ok';
      say(`${t('proposal')} #${id}: ${result.textContent}`);
    } catch (e) {
      result.textContent = `${t('error')}: ${e.message}`;
      result.dataset.kind = 'error';
      result.dataset.code = e.code;
      buttons.forEach((b) => { b.disabled = false; });
    }
  };
  const buttons = [
    el('button', { type: 'button', id: `approve-${id}`, class: 'approve', onclick: () => decide(true), text: t('approve') }),
    el('button', { type: 'button', id: `reject-${id}`, class: 'reject', onclick: () => decide(false), text: t('reject') }),
  ];
  const heading = `${t('proposal')} #${id}: ${t('k_' + p.kind)}`;
  return el('article', { class: 'card proposal', id: `proposal-${id}`, 'aria-labelledby': `proposal-h-${id}` },
    el('h2', { id: `proposal-h-${id}`, text: heading }),
    el('dl', {}, rows.map(([k, v, cls]) => [el('dt', { text: k }), el('dd', { class: cls, text: v })])),
    el('label', { for: `reason-${id}`, text: t('reason') }), reason,
    el('div', { class: 'actions' }, buttons),
    result);
}

export async function renderInbox(main, me) {
  main.replaceChildren(el('h1', { text: t('inbox') }), el('p', { text: t('loading') }));
  const limits = (me && me.user && me.user.approval_limits) || {};
  const limitLine = el('p', { id: 'your-limits', text: `${t('your_limit')}: ` +
    (Object.entries(limits).map(([cur, amount]) => formatAmount(amount, cur)).join(', ') || '—') });
  const cards = [];
  let after = 0;
  for (let page = 0; page < 20; page++) {
    const data = await call('GET', `/v1/approvals?status=pending&limit=100${after ? '&after=' + after : ''}`);
    for (const p of data.proposals) cards.push(await card(p, limits));
    if (!data.next_after) break;
    after = data.next_after;
  }
  const list = cards.length ? el('div', { class: 'list' }, cards) : el('p', { id: 'inbox-empty', text: t('inbox_empty') });
  main.replaceChildren(el('h1', { text: t('inbox') }), limitLine, list);
}
