// investor: the investor's screen: its tranches (commitment, what was called and paid in, what is
// still to call, distributions, capital; GET /v1/funds/{id}/tranches, which holds only the
// investor's own), each tranche's capital calls and contributions (GET /v1/tranches/{id}/capital-calls), and its statements by period (GET /v1/funds/{id}/statements?period_end=),
// shown in short here and opened whole as the printable HTML statement (format=html, A4), read
// with the session cookie. The server answers only the investor's own (docs/authorization.md).
import { call } from './api.js';
import { el, pick, table } from './dom.js';
import { formatAmount, formatDate, t } from './i18n.js';

// Quarter ends from the quarter of `first` ("YYYY-MM-DD") to the last one before `today`,
// newest first, then today itself first of all (the statement as of today).
export function periodEnds(first, today) {
  const ends = [];
  const lastDay = (y, m) => new Date(Date.UTC(y, m, 0)).getUTCDate(); // m: 1-12
  let y = Number(first.slice(0, 4));
  let q = Math.floor((Number(first.slice(5, 7)) - 1) / 3);
  for (let i = 0; i < 200; i++) {
    const m = q * 3 + 3;
    const end = `${y}-${String(m).padStart(2, '0')}-${String(lastDay(y, m)).padStart(2, '0')}`;
    if (end >= today) break;
    ends.push(end);
    q += 1;
    if (q === 4) { q = 0; y += 1; }
  }
  return [today, ...ends.reverse()];
}

function todayBogota() {
  // The fund's day (America/Bogota), as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Bogota' }).format(new Date());
}

function trancheTable(fund, tranches) {
  const a = (tr, k) => {
    const v = pick(tr, 'figures', k);
    return v === undefined ? '—' : formatAmount(v, tr.currency || fund.base_currency);
  };
  return table(`tranches-${fund.id}`, t('your_tranches'),
    [t('tranche'), t('commitment'), t('paid_in'), t('unfunded'), t('dist_income'), t('dist_principal'), t('capital')],
    tranches.map((tr) => ({ id: `tranche-${tr.id}`, cells: [
      [tr.name, 'name'], [a(tr, 'commitment'), 'commitment'], [a(tr, 'paid_in'), 'paid-in'],
      [a(tr, 'unfunded'), 'unfunded'], [a(tr, 'distributions_income'), 'dist-income'],
      [a(tr, 'distributions_principal'), 'dist-principal'], [a(tr, 'capital'), 'capital']] })));
}

const ACCOUNT_ROWS = ['opening', 'contributions', 'income_allocated', 'distributions_income',
  'distributions_principal', 'losses_absorbed', 'fees', 'closing'];

function statementView(fund, st) {
  const cur = pick(st, 'fund', 'currency') || fund.base_currency;
  const parts = [el('h3', { text: `${t('statement_at')} ${formatDate(st.period_end)}` })];
  for (const tr of st.tranches || []) {
    const q = pick(tr, 'capital_account', 'qtd') || {};
    const y = pick(tr, 'capital_account', 'itd') || {};
    const f = (v) => (v === undefined || v === null ? '—' : formatAmount(v, cur));
    parts.push(table(`account-${tr.id}`, `${tr.name}: ${t('capital_account')}`,
      ['', t('qtd'), t('itd')],
      ACCOUNT_ROWS.map((k) => ({ id: `account-${tr.id}-${k}`, cells: [[t('ca_' + k)], [f(q[k]), 'qtd'], [f(y[k]), 'itd']] }))));
  }
  return parts;
}

// A tranche's capital calls (with what was paid against each) and contributions
// (GET /v1/tranches/{id}/capital-calls: the server answers only the investor's own).
async function callsView(tr) {
  const c = await call('GET', `/v1/tranches/${tr.id}/capital-calls`);
  const cur = c.currency;
  return [
    (c.calls || []).length
      ? table(`calls-${tr.id}`, `${tr.name}: ${t('capital_calls')}`,
        [t('call_no'), t('call_date'), t('due_date'), t('amount'), t('contributed')],
        c.calls.map((k) => ({ id: `call-${k.id}`, cells: [[String(k.call_no)], [formatDate(k.call_date)],
          [formatDate(k.due_date)], [formatAmount(k.amount, cur), 'amount'],
          [formatAmount(k.contributed, cur), 'amount contributed']] })))
      : el('p', { id: `calls-${tr.id}`, text: `${tr.name}: ${t('no_calls')}` }),
    (c.contributions || []).length
      ? table(`contribs-${tr.id}`, `${tr.name}: ${t('contributions_list')}`,
        [t('received_date'), t('reference'), t('call_no'), t('amount')],
        c.contributions.map((k) => {
          const cn = (c.calls || []).find((x) => x.id === k.capital_call_id);
          return { id: `contrib-${k.id}`, cells: [[formatDate(k.received_date)], [k.reference],
            [cn ? String(cn.call_no) : '—'], [formatAmount(k.amount, cur), 'amount']] };
        }))
      : el('p', { id: `contribs-${tr.id}`, text: `${tr.name}: ${t('no_contributions')}` }),
  ];
}

async function fundSection(fund) {
  const { tranches = [] } = await call('GET', `/v1/funds/${fund.id}/tranches`);
  const calls = [];
  for (const tr of tranches) calls.push(await callsView(tr));
  const first = tranches.map((tr) => tr.signed_date).filter(Boolean).sort()[0] || todayBogota();
  const ends = periodEnds(first, todayBogota());
  const selId = `period-${fund.id}`;
  const select = el('select', { id: selId },
    ends.map((d, i) => el('option', { value: d, text: i === 0 ? `${t('today')} (${formatDate(d)})` : formatDate(d) })));
  const out = el('div', { id: `statement-${fund.id}`, 'aria-live': 'polite' });
  const link = el('a', { id: `print-${fund.id}`, class: 'button', href: '#' , text: t('open_printable') });
  const setLink = () => {
    link.setAttribute('href', `/v1/funds/${fund.id}/statements?format=html&period_end=${select.value}`);
  };
  setLink();
  select.addEventListener('change', setLink);
  const show = async () => {
    out.replaceChildren(el('p', { text: t('loading') }));
    try {
      const st = await call('GET', `/v1/funds/${fund.id}/statements?period_end=${select.value}`);
      out.replaceChildren(...statementView(fund, st));
    } catch (e) {
      out.replaceChildren(el('p', { class: 'error', role: 'alert', text: `${t('error')}: ${e.message}` }));
    }
  };
  return el('section', { class: 'card', 'aria-labelledby': `fund-h-${fund.id}` },
    el('h2', { id: `fund-h-${fund.id}`, text: fund.name }),
    tranches.length ? trancheTable(fund, tranches) : el('p', { text: t('no_tranches') }),
    ...(tranches.length ? [el('h3', { text: t('capital_calls') }), ...calls.flat()] : []),
    el('h3', { text: t('statements') }),
    el('label', { for: selId, text: t('period_end') }), select,
    el('div', { class: 'actions' },
      el('button', { type: 'button', id: `show-${fund.id}`, onclick: show, text: t('show_statement') }), link),
    el('p', { class: 'hint', text: t('print_hint') }),
    out);
}

export async function renderInvestor(main) {
  main.replaceChildren(el('h1', { text: t('investor_title') }), el('p', { text: t('loading') }));
  const { funds = [] } = await call('GET', '/v1/funds');
  const sections = [];
  for (const f of funds) sections.push(await fundSection(f));
  main.replaceChildren(el('h1', { text: t('investor_title') }), ...sections);
}
