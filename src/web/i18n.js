// i18n: the console's words in Spanish (default) and English, and numbers and dates per language.
// Amounts arrive as decimal strings ("1234567.89") and are never turned into floating point:
// the integer part is grouped as a BigInt by Intl.NumberFormat, the fraction digits are kept as
// written (docs/console.md, "Amounts").
const LOCALES = { es: 'es-CO', en: 'en-US' };

const WORDS = {
  es: {
    skip: 'Ir al contenido', signin: 'Iniciar sesión', name: 'Usuario', password: 'Contraseña',
    totp: 'Código de verificación (6 dígitos)', totp_hint: 'Solo para aprobadores y administradores.',
    signout: 'Cerrar sesión', signed_in_as: 'Sesión de', inbox: 'Bandeja de aprobación',
    inbox_empty: 'No hay propuestas pendientes.', kind: 'Tipo', amount: 'Importe', proposed_by: 'Propuesta por',
    proposed_at: 'Fecha', borrower: 'Prestatario', terms: 'Términos', value_date: 'Fecha valor',
    reason: 'Motivo (obligatorio para rechazar)', approve: 'Aprobar', reject: 'Rechazar',
    approved: 'Aprobada', rejected: 'Rechazada', pending_second: 'Aprobación registrada; falta un segundo aprobador',
    entry: 'Asiento contable', loading: 'Cargando…', no_screen: 'Su rol aún no tiene pantallas en la consola.',
    rate: 'tasa anual', payments: 'cuotas', per_year: 'por año', principal: 'Principal',
    error: 'Error', reason_needed: 'Escriba el motivo del rechazo.',
    k_disbursement: 'Desembolso', k_loan: 'Préstamo', k_journal_entry: 'Asiento manual', k_reversal: 'Reversión',
    k_write_off: 'Castigo de cartera', k_tranche: 'Tramo', k_tranche_change: 'Cambio de tramo',
    k_fund_settings: 'Configuración del fondo', proposal: 'Propuesta',
    drawn: 'Ya desembolsado', conditions: 'Condiciones precedentes', funding: 'Fondeo por tramo',
    your_limit: 'Su límite de aprobación', no_limit: 'Sin límite de aprobación en',
    within_limit: 'Dentro de su límite', over_limit: 'Supera su límite: se necesita un segundo aprobador',
    limit_check: 'Límite',
    c_signed_agreement: 'contrato firmado', c_kyc: 'conocimiento del cliente',
    c_sanctions_screening: 'listas restrictivas', c_bank_account_verified: 'cuenta bancaria verificada',
  },
  en: {
    skip: 'Skip to content', signin: 'Sign in', name: 'User name', password: 'Password',
    totp: 'Verification code (6 digits)', totp_hint: 'Approvers and administrators only.',
    signout: 'Sign out', signed_in_as: 'Signed in as', inbox: 'Approval inbox',
    inbox_empty: 'No pending proposals.', kind: 'Kind', amount: 'Amount', proposed_by: 'Proposed by',
    proposed_at: 'Date', borrower: 'Borrower', terms: 'Terms', value_date: 'Value date',
    reason: 'Reason (required to reject)', approve: 'Approve', reject: 'Reject',
    approved: 'Approved', rejected: 'Rejected', pending_second: 'Approval recorded; a second approver is needed',
    entry: 'Journal entry', loading: 'Loading…', no_screen: 'Your role has no console screens yet.',
    rate: 'annual rate', payments: 'payments', per_year: 'per year', principal: 'Principal',
    error: 'Error', reason_needed: 'Write the reason for the rejection.',
    k_disbursement: 'Drawdown', k_loan: 'Loan', k_journal_entry: 'Manual entry', k_reversal: 'Reversal',
    k_write_off: 'Write-off', k_tranche: 'Tranche', k_tranche_change: 'Tranche change',
    k_fund_settings: 'Fund settings', proposal: 'Proposal',
    drawn: 'Already drawn', conditions: 'Conditions precedent', funding: 'Funding by tranche',
    your_limit: 'Your approval limit', no_limit: 'No approval limit in',
    within_limit: 'Within your limit', over_limit: 'Over your limit: a second approver is needed',
    limit_check: 'Limit',
    c_signed_agreement: 'signed agreement', c_kyc: 'know your customer',
    c_sanctions_screening: 'sanctions screening', c_bank_account_verified: 'bank account verified',
  },
};

let lang = localStorage.getItem('fundledger.lang') === 'en' ? 'en' : 'es';

export function getLang() {
  return lang;
}

export function setLang(l) {
  lang = l === 'en' ? 'en' : 'es';
  localStorage.setItem('fundledger.lang', lang);
  document.documentElement.lang = lang;
}

export function t(key) {
  return WORDS[lang][key] ?? WORDS.es[key] ?? key;
}

// "1234567.89", "COP" -> "COP 1.234.567,89" (es) or "COP 1,234,567.89" (en). The number of
// fraction digits is the string's (the API writes the currency's minor units).
export function formatAmount(decimal, currency) {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(decimal));
  if (!m) return String(decimal) + ' ' + currency;
  const [, sign, int, frac = ''] = m;
  const nf = new Intl.NumberFormat(LOCALES[lang], {
    style: 'currency', currency, currencyDisplay: 'code', useGrouping: 'always',
    minimumFractionDigits: frac.length, maximumFractionDigits: frac.length,
  });
  const parts = nf.formatToParts(BigInt(sign + int) === 0n && sign ? -1n : BigInt(sign + int));
  let out = '';
  for (const p of parts) {
    if (p.type === 'fraction') out += frac;
    else if (p.type === 'integer' && BigInt(int) === 0n) out += '0';
    else out += p.value;
  }
  return out.replace(/\u00a0/g, ' ');
}

// Compares two decimal strings of one currency (same number of fraction digits) without floating
// point: -1, 0 or 1.
export function compareAmounts(a, b) {
  const x = BigInt(String(a).replace('.', ''));
  const y = BigInt(String(b).replace('.', ''));
  return x < y ? -1 : x > y ? 1 : 0;
}

export function formatDateTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(LOCALES[lang], { dateStyle: 'medium', timeStyle: 'short', timeZone: 'America/Bogota' })
    .format(d);
}

export function formatDate(ymd) {
  const d = new Date(ymd + 'T12:00:00Z');
  if (Number.isNaN(d.getTime())) return ymd;
  return new Intl.DateTimeFormat(LOCALES[lang], { dateStyle: 'long', timeZone: 'UTC' }).format(d);
}

// A rate as a percentage, from its decimal string ("0.2450" -> "24,50 %"): digits moved, no float.
export function formatRate(decimal) {
  const m = /^(\d+)\.(\d+)$/.exec(String(decimal));
  if (!m) return String(decimal);
  const digits = (m[1] + m[2]).replace(/^0+(?=\d)/, '');
  const scale = m[2].length - 2;
  const padded = digits.padStart(scale + 1, '0');
  const int = scale > 0 ? padded.slice(0, padded.length - scale) : padded + '0'.repeat(-scale);
  const frac = scale > 0 ? padded.slice(padded.length - scale) : '';
  return (frac ? int + (lang === 'es' ? ',' : '.') + frac : int) + ' %';
}
