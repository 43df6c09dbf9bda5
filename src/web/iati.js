// iati: the transparency officer's screen: a preview of the next publication (GET
// /v1/funds/{id}/publications/preview: every check with its rule id and location, the changes
// since the last version, the totals per transaction type against the ledger; run and rolled back
// by the server), publish (POST /v1/funds/{id}/publications), and the history of versions with
// their SHA-256 and downloads (GET /v1/funds/{id}/publications).
import { call } from './api.js';
import { el, pick, say, table } from './dom.js';
import { formatAmount, formatDateTime, t } from './i18n.js';

const TYPES = ['11', '1', '2', '3', '4', '5', '6'];

// a - b for two decimal strings with the same fraction digits, without floating point.
function subtract(a, b) {
  const frac = (String(a).split('.')[1] || '').length;
  const d = BigInt(String(a).replace('.', '')) - BigInt(String(b).replace('.', ''));
  const neg = d < 0n;
  const s = (neg ? -d : d).toString().padStart(frac + 1, '0');
  return (neg ? '-' : '') + (frac ? `${s.slice(0, s.length - frac)}.${s.slice(s.length - frac)}` : s);
}

function txName(code) {
  return `${code} — ${t('tx_' + code)}`;
}

function problemsView(p) {
  const problems = p.problems || [];
  if (!problems.length) return el('p', { id: 'problems-none', text: t('no_problems') });
  return table('problems', t('checks'), [t('rule'), t('severity'), t('message'), t('location')],
    problems.map((x, i) => ({ id: `problem-${i}`, cells: [[x.rule_id || '—', 'rule'], [x.severity || '', 'severity'],
      [x.message || '', 'message'], [`${x.location || ''}${x.line ? ':' + x.line : ''}`, 'location']] })));
}

function totalsView(p, cur) {
  const written = pick(p, 'publication', 'transactions') || {};
  const ledger = p.ledger_totals || {};
  const zero = (v) => (v === undefined ? null : v);
  const rows = TYPES.filter((c) => written[c] || ledger[c]).map((c) => {
    const w = zero(pick(written, c, 'total'));
    const l = zero(ledger[c]);
    const diff = w !== null && l !== null ? subtract(l, w) : (l !== null ? l : null);
    const f = (v) => (v === null ? '—' : formatAmount(v, cur));
    return { id: `total-${c}`, cells: [[txName(c), 'type'], [String(pick(written, c, 'count') ?? 0), 'count'],
      [f(w), 'published'], [f(l), 'ledger'], [f(diff), 'withheld']] };
  });
  const withheld = pick(p, 'publication', 'small_groups', 'withheld_loans');
  return [table('totals', t('totals_vs_ledger'), [t('tx_type'), t('tx_count'), t('published'), t('ledger'), t('difference')], rows),
    el('p', { class: 'hint', id: 'withheld-note', text: `${t('withheld_note')} ${withheld ?? 0}` })];
}

function changesView(p, cur) {
  const c = p.changes;
  if (!c) return el('p', { text: t('no_changes_refused') });
  const summary = el('p', { id: 'changes-summary', text: `${t('version')} ${c.version} ${t('against')} ` +
    `${c.previous_version ?? t('none')}: ${t('activities')} +${c.activities_added_count ?? 0} ` +
    `−${c.activities_removed_count ?? 0}; ${t('transactions')} +${c.transactions_added_count ?? 0} ` +
    `−${c.transactions_removed_count ?? 0}` });
  const totals = c.totals || {};
  const rows = TYPES.filter((k) => totals[k]).map((k) => ({ id: `change-${k}`, cells: [[txName(k), 'type'],
    [formatAmount(totals[k].previous, cur), 'previous'], [formatAmount(totals[k].current, cur), 'current'],
    [formatAmount(totals[k].change, cur), 'change']] }));
  return [summary, table('changes', t('changes'), [t('tx_type'), t('previous'), t('current'), t('change')], rows)];
}

async function historyView(fund) {
  const { publications = [] } = await call('GET', `/v1/funds/${fund.id}/publications`);
  if (!publications.length) return el('p', { id: 'history-empty', text: t('no_publications') });
  return table('history', t('history'), [t('version'), t('published_at'), t('activities'), 'SHA-256', t('downloads')],
    publications.map((v) => ({ id: `version-${v.version}`, cells: [[String(v.version), 'version'],
      [formatDateTime(v.created_at), 'date'], [String(v.activity_count ?? ''), 'activity-count'],
      [el('span', { class: 'hash' }, el('code', { class: 'sha-activities', text: v.activities_sha256 || '' }), ' ',
        el('code', { class: 'sha-organisation', text: v.organisation_sha256 || '' }))],
      [el('span', {},
        el('a', { href: v.activities_url || `/v1/funds/${fund.id}/publications/${v.version}/activities.xml`,
          download: `activities-v${v.version}.xml`, class: 'dl-activities', text: `activities.xml (v${v.version})` }), ' ',
        el('a', { href: v.organisation_url || `/v1/funds/${fund.id}/publications/${v.version}/organisation.xml`,
          download: `organisation-v${v.version}.xml`, class: 'dl-organisation', text: `organisation.xml (v${v.version})` }))]] })));
}

async function fundSection(fund) {
  const cur = fund.base_currency;
  const preview = el('div', { id: `preview-${fund.id}` });
  const result = el('p', { id: 'publish-result', role: 'status' });
  const history = el('div', { id: 'history-wrap' }, await historyView(fund));
  const publish = el('button', { type: 'button', id: 'publish', disabled: true, text: t('publish') });
  const doPreview = async () => {
    preview.replaceChildren(el('p', { text: t('loading') }));
    publish.disabled = true;
    try {
      const p = await call('GET', `/v1/funds/${fund.id}/publications/preview`);
      const verdict = p.would_publish
        ? `${t('would_publish')} ${pick(p, 'publication', 'version')}`
        : `${t('would_refuse')}: ${p.refusal || ''}`;
      preview.replaceChildren(
        el('p', { id: 'verdict', class: p.would_publish ? 'ok' : 'error', text: verdict }),
        el('h3', { text: t('checks') }), problemsView(p),
        el('h3', { text: t('changes') }), ...[changesView(p, cur)].flat(),
        el('h3', { text: t('totals_vs_ledger') }), ...totalsView(p, cur));
      publish.disabled = !p.would_publish;
    } catch (e) {
      preview.replaceChildren(el('p', { class: 'error', role: 'alert', text: `${t('error')}: ${e.message}` }));
    }
  };
  publish.addEventListener('click', async () => {
    publish.disabled = true;
    try {
      const res = await call('POST', `/v1/funds/${fund.id}/publications`, {}, { idempotent: true });
      result.textContent = `${t('published_version')} ${res.version}`;
      result.dataset.kind = 'ok';
      say(result.textContent);
      history.replaceChildren(await historyView(fund));
    } catch (e) {
      result.textContent = `${t('error')}: ${e.message}`;
      result.dataset.kind = 'error';
    }
  });
  return el('section', { class: 'card', 'aria-labelledby': `fund-h-${fund.id}` },
    el('h2', { id: `fund-h-${fund.id}`, text: fund.name }),
    el('div', { class: 'actions' },
      el('button', { type: 'button', id: 'preview', onclick: doPreview, text: t('preview') }), publish),
    result, preview,
    el('h3', { text: t('history') }), history);
}

export async function renderIati(main) {
  main.replaceChildren(el('h1', { text: t('iati_title') }), el('p', { text: t('loading') }));
  const { funds = [] } = await call('GET', '/v1/funds');
  const sections = [];
  for (const f of funds) sections.push(await fundSection(f));
  main.replaceChildren(el('h1', { text: t('iati_title') }), ...sections);
}

