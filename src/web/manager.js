// manager: the fund manager's screen: the pipeline as a board by stage with filters
// (municipality, value chain, women-led, youth-led, victims; GET /v1/funds/{id}/entrepreneurs),
// an entrepreneur's page with its history and latest human-security measures
// (GET /v1/entrepreneurs/{id}), the loan proposal form with its schedule preview
// (POST /v1/funds/{id}/loans/schedule-preview, writes nothing), the loans with drawdown and write-off proposals and repayments
// with their allocation (POST /v1/loans/{id}/disbursements, /write-off, /repayments), the CSV
// bank-statement import with its per-line report (POST /v1/funds/{id}/repayments/import) and
// arrears and PAR (GET /v1/funds/{id}/portfolio, /arrears).
import { call } from './api.js';
import { el, pick, say, table } from './dom.js';
import { formatAmount, formatDate, formatDateTime, formatRate, t } from './i18n.js';

const STAGES = ['sourced', 'screening', 'due_diligence', 'committee', 'approved', 'active', 'repaid', 'declined',
  'withdrawn', 'written_off'];

function todayBogota() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Bogota' }).format(new Date());
}

function field(id, label, input) {
  return el('div', { class: 'field' }, el('label', { for: id, text: label }), input);
}

function errorText(e) {
  return `${t('error')}: ${e.message}${e.field ? ` (${e.field})` : ''}`;
}

// ---- pipeline board and entrepreneur page

async function entrepreneurPage(id, box) {
  const x = await call('GET', `/v1/entrepreneurs/${id}`);
  const flags = [x.women_led ? t('women_led') : null, x.youth_led ? t('youth_led') : null,
    x.conflict_victim ? t('victims') : null].filter(Boolean).join(', ') || '—';
  const rows = [
    [t('stage'), t('s_' + x.stage)], [t('municipality'), `${x.municipality_name || ''} (${x.municipality_code || ''}), ${x.department_name || ''}`],
    [t('value_chain'), x.value_chain || ''], [t('requested'), formatAmount(x.requested, x.currency)],
    [t('purpose'), x.purpose || ''], [t('focus'), flags], [t('members'), String(x.members ?? '—')],
  ];
  const history = table(`history-${id}`, t('stage_history'), [t('date'), t('from'), t('to'), t('user'), t('reason_short')],
    (x.history || []).map((h) => ({ id: `hist-${h.id}`, cells: [[formatDateTime(h.at)], [h.from ? t('s_' + h.from) : '—'],
      [t('s_' + h.to)], [(h.user && h.user.name) || ''], [h.reason || '']] })));
  const measures = (x.latest_measures || []).length
    ? table(`measures-${id}`, t('hs_baseline'), [t('dimension'), t('round'), t('value')],
      x.latest_measures.map((m, i) => ({ id: `measure-${id}-${i}`, cells: [[m.dimension || m.indicator || ''],
        [String(m.round ?? '')], [String(m.value ?? m.score ?? '')]] })))
    : el('p', { text: t('no_measures') });
  box.replaceChildren(el('h3', { id: 'ent-name', tabindex: '-1', text: x.name }),
    el('dl', {}, rows.map(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })])), history, measures);
  box.querySelector('#ent-name').focus();
}

async function pipeline(fund) {
  const chains = (await call('GET', '/v1/value-chains')).value_chains || [];
  const muni = el('input', { id: 'f-municipality', inputmode: 'numeric', pattern: '[0-9]{5}', maxlength: '5',
    'aria-describedby': 'f-municipality-hint' });
  const chain = el('select', { id: 'f-chain' }, el('option', { value: '', text: t('any') }),
    chains.map((c) => el('option', { value: c.code, text: c.name_es && document.documentElement.lang === 'es' ? c.name_es : (c.name_en || c.code) })));
  const checks = ['women_led', 'youth_led', 'conflict_victim'].map((k) => el('input', { type: 'checkbox', id: `f-${k}` }));
  const board = el('div', { id: 'board', class: 'board' });
  const page = el('div', { id: 'entrepreneur', class: 'card', 'aria-live': 'polite' });
  const load = async () => {
    const q = new URLSearchParams({ limit: '200' });
    if (muni.value.trim()) q.set('municipality', muni.value.trim());
    if (chain.value) q.set('value_chain', chain.value);
    ['women_led', 'youth_led', 'conflict_victim'].forEach((k, i) => { if (checks[i].checked) q.set(k, 'true'); });
    try {
      const all = [];
      let after = 0;
      for (let i = 0; i < 50; i++) {
        if (after) q.set('after', String(after));
        const d = await call('GET', `/v1/funds/${fund.id}/entrepreneurs?${q}`);
        all.push(...(d.entrepreneurs || []));
        if (!d.next_after) break;
        after = d.next_after;
      }
      const stages = [...new Set([...STAGES, ...all.map((x) => x.stage)])];
      board.replaceChildren(...stages.map((s) => {
        const here = all.filter((x) => x.stage === s);
        return el('section', { class: 'column', id: `stage-${s}`, 'aria-labelledby': `stage-h-${s}` },
          el('h4', { id: `stage-h-${s}`, text: `${t('s_' + s)} (${here.length})` }),
          el('ul', {}, here.map((x) => el('li', {}, el('button', { type: 'button', class: 'link', id: `ent-${x.id}`,
            onclick: () => entrepreneurPage(x.id, page).catch((e) => page.replaceChildren(el('p', { class: 'error', text: errorText(e) }))),
            text: `${x.name} — ${formatAmount(x.requested, x.currency)}` })))));
      }));
    } catch (e) {
      board.replaceChildren(el('p', { class: 'error', role: 'alert', text: errorText(e) }));
    }
  };
  const form = el('form', { id: 'pipeline-filters', class: 'filters' },
    field('f-municipality', t('municipality_code'), muni),
    field('f-chain', t('value_chain'), chain),
    ['women_led', 'youth_led', 'conflict_victim'].map((k, i) => el('div', { class: 'check' }, checks[i],
      el('label', { for: `f-${k}`, text: t(k === 'conflict_victim' ? 'victims' : k) }))),
    el('div', {}, el('button', { type: 'submit', id: 'f-apply', text: t('filter') })));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  await load();
  return [form, el('p', { id: 'f-municipality-hint', class: 'hint', text: t('municipality_hint') }), board, page];
}

// ---- loans: drawdown, write-off, repayment

function allocationView(r, cur) {
  const buckets = ['fees', 'overdue_interest', 'overdue_principal', 'current_interest', 'current_principal', 'prepayment'];
  return [
    table(`alloc-${r.id}`, `${t('allocation')} #${r.id}`, [t('bucket'), t('amount')],
      buckets.filter((b) => r[b] !== undefined).map((b) => ({ id: `alloc-${r.id}-${b}`, cells: [[t('b_' + b)],
        [formatAmount(r[b], cur), 'amount']] }))),
    table(`alloc-tr-${r.id}`, t('principal_by_tranche'), [t('tranche'), t('principal')],
      (r.tranches || []).map((x) => ({ id: `alloc-${r.id}-t${x.tranche_id}`, cells: [[`#${x.tranche_id}`], [formatAmount(x.principal, cur), 'amount']] }))),
  ];
}

// changed: called after a repayment is recorded (the arrears and PAR below are read again).
async function loans(fund, changed) {
  const all = [];
  let after = 0;
  for (let i = 0; i < 50; i++) {
    const d = await call('GET', `/v1/funds/${fund.id}/loans?limit=200${after ? '&after=' + after : ''}`);
    all.push(...(d.loans || []));
    if (!d.next_after) break;
    after = d.next_after;
  }
  const sel = el('select', { id: 'loan' }, all.map((l) => el('option', { value: String(l.id),
    text: `#${l.id} — ${formatAmount(l.principal, l.currency)} (${t('st_' + l.status)})` })));
  const cur = () => (all.find((l) => String(l.id) === sel.value) || {}).currency || fund.base_currency;
  const out = el('div', { id: 'loan-result', role: 'status' });
  const amount = el('input', { id: 'op-amount', inputmode: 'decimal', 'aria-describedby': 'op-amount-hint' });
  const date = el('input', { id: 'op-date', type: 'date', value: todayBogota() });
  const ref = el('input', { id: 'op-reference', maxlength: '200' });
  const reason = el('input', { id: 'op-reason', maxlength: '500' });
  const act = async (what) => {
    const id = sel.value;
    delete out.dataset.kind; // set again when the server has answered
    out.replaceChildren();
    try {
      if (what === 'drawdown') {
        const p = await call('POST', `/v1/loans/${id}/disbursements`, { amount: amount.value.trim(), value_date: date.value },
          { idempotent: true });
        out.replaceChildren(el('p', { id: 'op-done', text: `${t('proposed')} #${p.id}: ${t('k_disbursement')} ${formatAmount(p.amount || amount.value.trim(), cur())}` }));
      } else if (what === 'write_off') {
        const body = { value_date: date.value };
        if (amount.value.trim()) body.amount = amount.value.trim();
        if (reason.value.trim()) body.reason = reason.value.trim();
        const p = await call('POST', `/v1/loans/${id}/write-off`, body, { idempotent: true });
        out.replaceChildren(el('p', { id: 'op-done', text: `${t('proposed')} #${p.id}: ${t('k_write_off')}` +
          (p.amount ? ` ${formatAmount(p.amount, p.currency || cur())}` : '') }));
      } else {
        const r = await call('POST', `/v1/loans/${id}/repayments`, { amount: amount.value.trim(), value_date: date.value,
          reference: ref.value.trim() }, { idempotent: true });
        out.replaceChildren(el('p', { id: 'op-done', text: `${t('repayment_recorded')} #${r.id}: ${formatAmount(r.amount, cur())}` +
          (r.entry_id ? ` — ${t('entry')} #${r.entry_id}` : '') }), ...allocationView(r, cur()));
        changed();
      }
      out.dataset.kind = 'ok';
      say(out.textContent.slice(0, 200));
    } catch (e) {
      out.dataset.kind = 'error';
      out.dataset.code = e.code;
      out.replaceChildren(el('p', { class: 'error', id: 'op-error', text: errorText(e) }));
    }
  };
  return [
    field('loan', t('loan'), sel),
    el('div', { class: 'filters' }, field('op-amount', t('amount'), amount), field('op-date', t('value_date'), date),
      field('op-reference', t('bank_reference'), ref), field('op-reason', t('reason_short'), reason)),
    el('p', { id: 'op-amount-hint', class: 'hint', text: t('amount_hint') }),
    el('div', { class: 'actions' },
      el('button', { type: 'button', id: 'do-repayment', onclick: () => act('repayment'), text: t('record_repayment') }),
      el('button', { type: 'button', id: 'do-drawdown', onclick: () => act('drawdown'), text: t('propose_drawdown') }),
      el('button', { type: 'button', id: 'do-write-off', class: 'reject', onclick: () => act('write_off'), text: t('propose_write_off') })),
    out,
  ];
}

// ---- loan proposal (four eyes: the approver decides in the inbox)

async function loanForm(fund) {
  const ents = [];
  let after = 0;
  for (let i = 0; i < 50; i++) {
    const d = await call('GET', `/v1/funds/${fund.id}/entrepreneurs?stage=committee&limit=200${after ? '&after=' + after : ''}`);
    ents.push(...(d.entrepreneurs || []));
    if (!d.next_after) break;
    after = d.next_after;
  }
  const ent = el('select', { id: 'lf-entrepreneur' }, ents.map((x) => el('option', { value: String(x.id),
    text: `${x.name} — ${formatAmount(x.requested, x.currency)}` })));
  const principal = el('input', { id: 'lf-principal', inputmode: 'decimal', required: true });
  const rate = el('input', { id: 'lf-rate', inputmode: 'decimal', required: true, 'aria-describedby': 'lf-rate-hint' });
  const ppy = el('select', { id: 'lf-ppy' }, ['12', '6', '4', '3', '2', '1'].map((v) => el('option', { value: v, text: v })));
  const terms = el('input', { id: 'lf-terms', type: 'number', min: '1', max: '600', required: true });
  const first = el('input', { id: 'lf-first-due', type: 'date', required: true });
  const amort = el('select', { id: 'lf-amortisation' }, ['annuity', 'equal_principal', 'bullet'].map((v) =>
    el('option', { value: v, text: t('am_' + v) })));
  const modality = el('select', { id: 'lf-modality' }, ['microcredito', 'productivo_rural', 'consumo_ordinario'].map((v) =>
    el('option', { value: v, text: v })));
  const purpose = el('input', { id: 'lf-purpose', maxlength: '500', required: true });
  const approval = el('input', { id: 'lf-approval-date', type: 'date' });
  const out = el('div', { id: 'loan-form-result', role: 'status' });
  const preview = el('div', { id: 'lf-preview-result', role: 'status' });
  // The terms as both routes take them; an empty approval date is today (the server's).
  const termsBody = () => ({ principal: principal.value.trim(), annual_rate: rate.value.trim(),
    payments_per_year: Number(ppy.value), term_count: Number(terms.value), first_due_date: first.value,
    amortisation: amort.value, modality: modality.value, approval_date: approval.value || undefined });
  // The schedule the proposal would store (POST .../loans/schedule-preview writes nothing).
  async function showPreview() {
    delete preview.dataset.kind;
    preview.replaceChildren();
    try {
      const s = await call('POST', `/v1/funds/${fund.id}/loans/schedule-preview`, termsBody());
      const u = s.usury || {};
      const cap = u.cap ? `${t('usury')} ${formatRate(u.cap)}, ${t('margin_under')} ${formatRate(u.margin)}`
        : `${t('no_cap')} ${formatDate(u.on)}`;
      preview.dataset.kind = 'ok';
      preview.replaceChildren(
        el('p', { id: 'lf-preview-summary', text: `${t('instalment')}: ${formatAmount(s.instalment, s.currency)}; ` +
          `${t('interest_total')}: ${formatAmount(s.totals.interest, s.currency)}; ${cap}` }),
        table('lf-schedule', t('schedule_preview'), [t('instalment_no'), t('due_date'), t('principal'), t('interest'),
          t('total'), t('balance_after')], s.rows.map((r) => ({ id: `lf-row-${r.no}`, cells: [[String(r.no)],
          [formatDate(r.due_date)], [formatAmount(r.principal, s.currency), 'amount'],
          [formatAmount(r.interest, s.currency), 'amount interest'], [formatAmount(r.total, s.currency), 'amount total'],
          [formatAmount(r.balance_after, s.currency), 'amount'] ] }))));
    } catch (e) {
      preview.dataset.kind = 'error';
      preview.dataset.code = e.code;
      preview.replaceChildren(el('p', { class: 'error', id: 'lf-preview-error', text: errorText(e) }));
    }
  }
  const form = el('form', { id: 'loan-form', class: 'filters', novalidate: true },
    field('lf-entrepreneur', t('entrepreneur_committee'), ent), field('lf-principal', t('principal'), principal),
    field('lf-rate', t('annual_rate'), rate), field('lf-ppy', t('per_year_label'), ppy), field('lf-terms', t('term_count'), terms),
    field('lf-first-due', t('first_due'), first), field('lf-amortisation', t('amortisation'), amort),
    field('lf-modality', t('modality'), modality), field('lf-approval-date', t('approval_date_label'), approval),
    field('lf-purpose', t('purpose'), purpose),
    el('div', {}, el('button', { type: 'button', id: 'lf-preview', onclick: showPreview, text: t('preview_schedule') }),
      el('button', { type: 'submit', id: 'lf-submit', text: t('propose_loan') })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    delete out.dataset.kind;
    out.replaceChildren();
    try {
      const p = await call('POST', `/v1/funds/${fund.id}/loans`, {
        entrepreneur_id: Number(ent.value), ...termsBody(), purpose: purpose.value.trim() }, { idempotent: true });
      out.dataset.kind = 'ok';
      out.replaceChildren(el('p', { id: 'lf-done', text: `${t('proposed')} #${p.id}: ${t('k_loan')} ` +
        `${formatAmount(p.amount, p.currency || fund.base_currency)}, ${t('rate')} ${formatRate(pick(p, 'payload', 'annual_rate') || rate.value.trim())}` +
        (p.loan_id ? ` (${t('loan')} #${p.loan_id})` : '') }));
    } catch (e) {
      out.dataset.kind = 'error';
      out.dataset.code = e.code;
      out.replaceChildren(el('p', { class: 'error', id: 'lf-error', text: errorText(e) }));
    }
  });
  return [ents.length ? form : el('p', { text: t('no_committee') }),
    el('p', { id: 'lf-rate-hint', class: 'hint', text: t('rate_hint') }), preview, out];
}

// ---- CSV import

function importView(fund, changed) {
  const text = el('textarea', { id: 'csv', rows: '6', spellcheck: 'false', 'aria-describedby': 'csv-hint' });
  const file = el('input', { id: 'csv-file', type: 'file', accept: '.csv,text/csv' });
  file.addEventListener('change', async () => { if (file.files[0]) text.value = await file.files[0].text(); });
  const out = el('div', { id: 'import-result', role: 'status' });
  const run = async () => {
    out.replaceChildren();
    try {
      const r = await call('POST', `/v1/funds/${fund.id}/repayments/import`, text.value,
        { idempotent: true, contentType: 'text/csv' });
      const cur = r.currency || fund.base_currency;
      out.replaceChildren(
        el('p', { id: 'import-summary', text: `${t('lines')}: ${r.lines}; ${t('applied')}: ${r.applied}; ${t('refused')}: ` +
          `${r.refused}; ${t('amount_applied')}: ${formatAmount(r.amount_applied, cur)}` }),
        table('import-lines', t('per_line'), [t('line'), t('status'), t('detail')], (r.results || []).map((x) => ({
          id: `import-line-${x.line}`, cells: [[String(x.line)], [t('r_' + x.status), 'status'],
            [x.repayment_id ? `${t('repayment')} #${x.repayment_id}` : (x.error ? `${x.error.message || ''}${x.error.field ? ` (${x.error.field})` : ''}` : ''), 'detail']] }))));
      if (r.applied > 0) changed();
    } catch (e) {
      out.replaceChildren(el('p', { class: 'error', id: 'import-error', text: errorText(e) }));
    }
  };
  return [field('csv-file', t('csv_file'), file), field('csv', t('csv_text'), text),
    el('p', { id: 'csv-hint', class: 'hint', text: t('csv_hint') }),
    el('button', { type: 'button', id: 'do-import', onclick: run, text: t('import') }), out];
}

// ---- arrears and PAR

async function arrearsView(fund) {
  const p = await call('GET', `/v1/funds/${fund.id}/portfolio`);
  const a = await call('GET', `/v1/funds/${fund.id}/arrears`);
  const cur = p.currency || fund.base_currency;
  const par = table('par', `${t('par')} (${formatDate(p.as_of)})`, ['', t('loans'), t('amount'), t('ratio')],
    ['par30', 'par90'].filter((k) => p[k]).map((k) => ({ id: k, cells: [[k.toUpperCase()], [String(p[k].loans), 'loans'],
      [formatAmount(p[k].amount, cur), 'amount'], [formatRate(p[k].ratio), 'ratio']] })));
  const late = (a.loans || []).filter((l) => l.days_past_due > 0);
  const arrears = late.length
    ? table('arrears', t('arrears'), [t('loan'), t('days_late'), t('principal_arrears'), t('interest_arrears'), t('outstanding')],
      late.map((l) => ({ id: `arrears-${l.loan_id}`, cells: [[`#${l.loan_id}`], [String(l.days_past_due), 'days'],
        [formatAmount(l.principal_in_arrears, l.currency || cur), 'principal'], [formatAmount(l.interest_in_arrears, l.currency || cur), 'interest'],
        [formatAmount(l.principal_outstanding, l.currency || cur), 'outstanding']] })))
    : el('p', { id: 'arrears-none', text: t('no_arrears') });
  return [el('p', { id: 'gross', text: `${t('gross_portfolio')}: ${formatAmount(p.gross_portfolio, cur)}` }), par, arrears];
}

async function fundSection(fund) {
  // Arrears and PAR, read again after the manager records a repayment here (else they would
  // show the portfolio as it was when the screen was built).
  const arrearsBox = el('div', { id: `arrears-par-${fund.id}` }, ...await arrearsView(fund));
  const changed = () => {
    arrearsView(fund).then((parts) => arrearsBox.replaceChildren(...parts)).catch((e) =>
      arrearsBox.replaceChildren(el('p', { class: 'error', role: 'alert', text: errorText(e) })));
  };
  return el('section', { class: 'card', 'aria-labelledby': `fund-h-${fund.id}` },
    el('h2', { id: `fund-h-${fund.id}`, text: fund.name }),
    el('h3', { text: t('pipeline') }), await pipeline(fund),
    el('h3', { text: t('loan_proposal') }), await loanForm(fund),
    el('h3', { text: t('loans') }), await loans(fund, changed),
    el('h3', { text: t('csv_import') }), importView(fund, changed),
    el('h3', { text: t('arrears_par') }), arrearsBox);
}

export async function renderManager(main) {
  main.replaceChildren(el('h1', { text: t('manager_title') }), el('p', { text: t('loading') }));
  const { funds = [] } = await call('GET', '/v1/funds');
  const sections = [];
  for (const f of funds) sections.push(await fundSection(f));
  main.replaceChildren(el('h1', { text: t('manager_title') }), ...sections);
}
