// inbox: the approver's screen: pending proposals oldest first, each in human terms, approve or
// reject with a reason, and the result (GET /v1/approvals, POST /v1/approvals/{id}/approve|reject).
import { call } from './api.js';
import { el, say, table } from './dom.js';
import { compareAmounts, formatAmount, formatDate, formatDateTime, formatRate, t } from './i18n.js';

const CONDITIONS = ['signed_agreement', 'kyc', 'sanctions_screening', 'bank_account_verified'];

// a - b for decimal strings of one currency (same fraction digits), without floating point.
export function subtractAmounts(a, b) {
  const frac = (String(a).split('.')[1] || '').length;
  const d = BigInt(String(a).replace('.', '')) - BigInt(String(b).replace('.', ''));
  const neg = d < 0n;
  const s = (neg ? -d : d).toString().padStart(frac + 1, '0');
  return (neg ? '-' : '') + (frac ? `${s.slice(0, s.length - frac)}.${s.slice(s.length - frac)}` : s);
}

async function borrowerName(id) {
  try {
    const ent = await call('GET', `/v1/entrepreneurs/${id}`);
    return ent.name || ent.display_name || `#${id}`;
  } catch (_) {
    return `#${id}`; /* shown by id */
  }
}

function termsText(x) {
  return `${t('principal')} ${formatAmount(x.principal, x.currency)}, ${t('rate')} ` +
    `${formatRate(x.annual_rate)}, ${x.term_count} ${t('payments')} (${x.payments_per_year} ${t('per_year')})`;
}

// The usury cap on the date and the rate's margin under it (GET /v1/loans/{id}/usury).
async function usuryText(loanId, on) {
  try {
    const u = await call('GET', `/v1/loans/${loanId}/usury${on ? '?on=' + on : ''}`);
    if (u.cap === null || u.cap === undefined) return `${t('no_cap')} ${formatDate(u.on)}`;
    return `${t('cap_on')} ${formatDate(u.on)}: ${formatRate(u.cap)}; ${t('margin_under')}: ${formatRate(u.margin)}`;
  } catch (e) {
    return `${t('error')}: ${e.message}`;
  }
}

// Each funding tranche's share and the cash it holds now (GET /v1/tranches/{id}).
async function fundingRows(loan) {
  const out = [];
  for (const f of loan.funding || []) {
    let cash = '—';
    if (f.tranche_id) {
      try {
        const tr = await call('GET', `/v1/tranches/${f.tranche_id}`);
        const c = tr.figures && tr.figures.cash_available;
        if (c !== undefined) cash = formatAmount(c, tr.currency || loan.currency);
      } catch (_) {
        /* not shown */
      }
    }
    out.push({ id: `funding-${loan.id}-${f.tranche_id}`, cells: [[f.tranche, 'tranche'],
      [formatAmount(f.share, loan.currency), 'share'], [cash, 'cash']] });
  }
  return out;
}

function scheduleTable(pid, loan) {
  const rows = (loan.schedule || []).map((r) => ({ id: `schedule-${pid}-${r.no}`, cells: [[String(r.no), 'no'],
    [formatDate(r.due_date), 'due'], [formatAmount(r.principal, loan.currency), 'principal'],
    [formatAmount(r.interest, loan.currency), 'interest'], [formatAmount(r.total, loan.currency), 'total']] }));
  return table(`schedule-${pid}`, t('schedule'), [t('instalment'), t('due_date'), t('principal'), t('interest'), t('total')], rows);
}

// For a drawdown: the loan, its borrower, terms, usury cap on the value date, conditions ticked or
// missing, funding with each tranche's cash, and the loan's schedule (GET /v1/loans/{id}).
async function drawdownDetails(p) {
  const loanId = p.payload && p.payload.loan_id;
  if (!loanId) return { rows: [], extra: [] };
  const loan = await call('GET', `/v1/loans/${loanId}`);
  const done = new Map((loan.conditions || []).map((c) => [c.item, c.done_on]));
  const items = [...new Set([...CONDITIONS, ...done.keys()])];
  const conditions = items.map((i) => (done.has(i)
    ? `✓ ${t('c_' + i)} (${formatDate(done.get(i))})` : `✗ ${t('c_' + i)} (${t('missing')})`)).join('; ');
  const funding = (loan.funding || []).map((f) => `${f.tranche}: ${formatAmount(f.share, loan.currency)}`).join('; ');
  const rows = [
    [t('borrower'), await borrowerName(loan.entrepreneur_id), 'borrower'],
    [t('terms'), termsText(loan), 'terms'],
    [t('drawn'), formatAmount(loan.drawn, loan.currency), 'drawn'],
    [t('usury'), await usuryText(loanId, p.payload.value_date), 'usury'],
    [t('conditions'), conditions || '—', 'conditions'],
    [t('funding'), funding || '—', 'funding'],
    [t('value_date'), formatDate(p.payload.value_date), 'value-date'],
  ];
  const extra = [
    table(`funding-${p.id}`, t('funding_cash'), [t('tranche'), t('share'), t('cash_now')], await fundingRows(loan)),
    el('details', {}, el('summary', { text: t('schedule') }), scheduleTable(p.id, loan)),
  ];
  return { rows, extra };
}

// For a loan proposal: the borrower and the proposed terms (the loan exists once approved).
async function loanDetails(p) {
  const x = p.payload || {};
  if (!x.principal) return { rows: [], extra: [] };
  const rows = [
    [t('borrower'), await borrowerName(x.entrepreneur_id), 'borrower'],
    [t('terms'), termsText({ ...x, currency: p.currency }), 'terms'],
  ];
  if (x.first_due_date) rows.push([t('first_due'), formatDate(x.first_due_date), 'first-due']);
  return { rows, extra: [] };
}

// For a loan charge: the loan and its borrower, the value date, the reason, and the usury cap on
// that date (the amount is the card's; the service checks the cost of credit at approval).
async function chargeDetails(p) {
  const x = p.payload || {};
  if (!x.loan_id) return { rows: [], extra: [] };
  let who = `#${x.loan_id}`;
  try {
    const loan = await call('GET', `/v1/loans/${x.loan_id}`);
    who = `#${x.loan_id} — ${await borrowerName(loan.entrepreneur_id)}`;
  } catch (_) {
    /* shown by id */
  }
  const rows = [
    [t('loan'), who, 'loan'],
    [t('value_date'), formatDate(x.value_date), 'value-date'],
    [t('reason_short'), x.reason || '—', 'charge-reason'],
    [t('usury'), await usuryText(x.loan_id, x.value_date), 'usury'],
  ];
  return { rows, extra: [] };
}

// For a write-off: the loan, its borrower, principal outstanding, the amount, the loan's allowance
// held and used, and the loss per tranche bottom-up (GET /v1/loans/{id}/write-off-preview: what
// approval would post now).
async function writeOffDetails(p) {
  const x = p.payload || {};
  if (!x.loan_id) return { rows: [], extra: [] };
  const w = await call('GET', `/v1/loans/${x.loan_id}/write-off-preview?amount=${encodeURIComponent(x.amount)}`);
  const cur = w.currency;
  const rows = [
    [t('loan'), `#${w.loan_id}`, 'loan'],
    [t('borrower'), await borrowerName(w.entrepreneur_id), 'borrower'],
    [t('outstanding'), formatAmount(w.principal_outstanding, cur), 'outstanding'],
    [t('wo_amount'), formatAmount(w.amount, cur), 'wo-amount'],
    [t('allowance_held'), formatAmount(w.allowance_held, cur), 'allowance-held'],
    [t('allowance_used'), formatAmount(w.allowance_used, cur), 'allowance-used'],
    [t('loss_beyond'), formatAmount(w.loss_beyond_allowance, cur), 'loss-beyond'],
    [t('value_date'), formatDate(x.value_date), 'value-date'],
    [t('reason_short'), x.reason || '', 'wo-reason'],
  ];
  const trows = (w.tranches || []).slice().reverse().map((tr) => ({ id: `loss-${p.id}-${tr.tranche_id}`,
    cells: [[tr.name, 'tranche'], [String(tr.rank), 'rank'], [formatAmount(tr.capital, cur), 'capital'],
      [formatAmount(tr.absorbed, cur), 'absorbed'], [formatAmount(tr.capital_after, cur), 'capital-after']] }));
  const extra = [table(`loss-${p.id}`, t('loss_by_tranche'), [t('tranche'), t('seniority'), t('capital'), t('absorbed'), t('capital_after')], trows)];
  if (compareAmounts(w.unabsorbed, '0.' + '0'.repeat((w.unabsorbed.split('.')[1] || '').length)) > 0) {
    extra.push(el('p', { class: 'error', id: `unabsorbed-${p.id}`, text: `${t('unabsorbed')}: ${formatAmount(w.unabsorbed, cur)}` }));
  }
  return { rows, extra };
}

// For a tranche proposal: the investor, seniority (rank 1 = most senior), commitment and rates.
async function trancheDetails(p) {
  const x = p.payload || {};
  let investor = x.investor_id ? `#${x.investor_id}` : '—';
  try {
    const { organisations = [] } = await call('GET', '/v1/organisations');
    const o = organisations.find((org) => org.id === x.investor_id);
    if (o) investor = o.name;
  } catch (_) {
    /* shown by id */
  }
  const cur = x.currency || p.currency;
  const rows = [
    [t('investor'), investor, 'investor'],
    [t('tranche'), x.name || '', 'tranche-name'],
    [t('seniority'), `${x.rank} (${t('tk_' + x.kind)})`, 'seniority'],
    [t('commitment'), formatAmount(x.commitment, cur), 'commitment'],
    [t('return_rate'), formatRate(x.return_rate), 'return-rate'],
    [t('fee_rate'), formatRate(x.fee_rate), 'fee-rate'],
  ];
  if (x.signed_date) rows.push([t('signed_date'), formatDate(x.signed_date), 'signed-date']);
  return { rows, extra: [] };
}

// For a manual journal entry: its date, memo and lines with account code and name, debit, credit.
async function journalDetails(p) {
  const x = p.payload || {};
  const names = new Map();
  try {
    const { accounts = [] } = await call('GET', `/v1/funds/${p.fund_id}/accounts`);
    for (const a of accounts) names.set(a.id, a);
  } catch (_) {
    /* shown by id */
  }
  const lines = (x.lines || []).map((l, i) => {
    const a = names.get(l.account_id);
    const amount = String(l.amount || '');
    const credit = amount.startsWith('-');
    const abs = credit ? amount.slice(1) : amount;
    const cur = l.currency || p.currency;
    return { id: `line-${p.id}-${i + 1}`, cells: [[a ? a.code : `#${l.account_id}`, 'code'], [a ? a.name || '' : '', 'name'],
      [credit ? '' : formatAmount(abs, cur), 'debit'], [credit ? formatAmount(abs, cur) : '', 'credit']] };
  });
  const rows = [
    [t('effective_date'), x.effective_date ? formatDate(x.effective_date) : '—', 'effective-date'],
    [t('memo'), x.memo || '', 'memo'],
  ];
  return { rows, extra: [table(`lines-${p.id}`, t('entry_lines'), [t('account_code'), t('account_name'), t('debit'), t('credit')], lines)] };
}

function decisionText(res) {
  if (res.status === 'approved') {
    return t('approved') + (res.result_entry_id ? ` — ${t('entry')} #${res.result_entry_id}` : '');
  }
  if (res.status === 'rejected') return t('rejected');
  return t('pending_second');
}

// Whether the amount is within the approver's limit in its currency (decimal strings, digit by digit).
function limitText(p, limits) {
  const limit = limits[p.currency];
  if (limit === undefined) return `${t('no_limit')} ${p.currency}`;
  if (compareAmounts(p.amount, limit) > 0) return t('over_limit');
  return `${t('within_limit')}; ${t('left_after')}: ${formatAmount(subtractAmounts(limit, p.amount), p.currency)}`;
}

// Who already approved (a second approver is needed above a limit).
function decisionsText(p) {
  return (p.decisions || []).map((d) => `${d.user || '#' + d.user_id}: ${t(d.decision === 'approve' ? 'approved' : 'rejected')}` +
    ` (${formatDateTime(d.at)})`).join('; ');
}

async function card(p, limits) {
  const id = p.id;
  const rows = [
    [t('kind'), t('k_' + p.kind), 'kind'],
    [t('amount'), formatAmount(p.amount, p.currency), 'amount'],
    [t('proposed_by'), p.proposed_by.name, 'proposed-by'],
    [t('proposed_at'), formatDateTime(p.proposed_at), 'proposed-at'],
  ];
  let details = { rows: [], extra: [] };
  const detailsOf = { disbursement: drawdownDetails, loan: loanDetails, write_off: writeOffDetails,
    tranche: trancheDetails, journal_entry: journalDetails, loan_charge: chargeDetails }[p.kind];
  try {
    if (detailsOf) details = await detailsOf(p);
  } catch (e) {
    /* The proposal is still shown and can be decided; the server checks again when it is. */
    details = { rows: [[t('details'), `${t('error')}: ${e.message}`, 'details-error']], extra: [] };
  }
  rows.push(...details.rows);
  rows.push([t('limit_check'), limitText(p, limits), 'limit']);
  const earlier = decisionsText(p);
  if (earlier) rows.push([t('decisions'), earlier, 'decisions']);
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
    details.extra,
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
