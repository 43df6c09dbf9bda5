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
    k_loan_charge: 'Cargo al préstamo',
    k_fund_settings: 'Configuración del fondo', proposal: 'Propuesta',
    drawn: 'Ya desembolsado', conditions: 'Condiciones precedentes', funding: 'Fondeo por tramo',
    your_limit: 'Su límite de aprobación', no_limit: 'Sin límite de aprobación en',
    within_limit: 'Dentro de su límite', over_limit: 'Supera su límite: se necesita un segundo aprobador',
    limit_check: 'Límite',
    c_signed_agreement: 'contrato firmado', c_kyc: 'conocimiento del cliente',
    c_sanctions_screening: 'listas restrictivas', c_bank_account_verified: 'cuenta bancaria verificada',
    usury: 'Tope de usura', cap_on: 'Tope de usura al', no_cap: 'Sin tope de usura certificado al',
    margin_under: 'margen bajo el tope', missing: 'pendiente', funding_cash: 'Fondeo por tramo y caja de cada tramo',
    share: 'Participación', cash_now: 'Caja disponible hoy', schedule: 'Plan de pagos', instalment: 'Cuota',
    due_date: 'Vencimiento', interest: 'Interés', first_due: 'Primer vencimiento',
    left_after: 'le queda tras esta propuesta', decisions: 'Decisiones previas',
    loan_proposal: 'Proponer un préstamo', entrepreneur_committee: 'Emprendimiento (en comité)',
    annual_rate: 'Tasa efectiva anual (fracción)', rate_hint: 'Como fracción con punto: 0.2400 es 24 % E.A. «Ver plan de pagos» muestra el plan que se guardará al aprobar, sin proponer nada.',
    preview_schedule: 'Ver plan de pagos', capital_calls: 'Llamados de capital y aportes', call_no: 'Llamado', call_date: 'Fecha del llamado',
    contributed: 'Aportado', contributions_list: 'Aportes recibidos', received_date: 'Recibido', reference: 'Referencia',
    no_calls: 'ningún llamado de capital.', no_contributions: 'ningún aporte.', schedule_preview: 'Plan de pagos (vista previa, nada guardado)',
    approval_date_label: 'Fecha de aprobación (vacía: hoy)', interest_total: 'Intereses totales', balance_after: 'Saldo', instalment_no: 'N.º',
    per_year_label: 'Cuotas por año', term_count: 'Número de cuotas', amortisation: 'Amortización', modality: 'Modalidad',
    am_annuity: 'Cuota fija', am_equal_principal: 'Capital constante', am_bullet: 'Capital al vencimiento',
    propose_loan: 'Proponer préstamo', no_committee: 'Ningún emprendimiento en comité.',
    manager_title: 'Gestión del fondo', pipeline: 'Embudo de emprendimientos', women_led: 'Liderado por mujeres',
    youth_led: 'Liderado por jóvenes', victims: 'Víctimas del conflicto', stage: 'Etapa', municipality: 'Municipio',
    municipality_code: 'Código DANE del municipio', municipality_hint: 'Cinco dígitos (p. ej. 52250); vacío: todos.',
    value_chain: 'Cadena de valor', requested: 'Solicitado', purpose: 'Destino', focus: 'Enfoque', members: 'Miembros',
    stage_history: 'Historia de etapas', hs_baseline: 'Línea base de seguridad humana', dimension: 'Dimensión',
    round: 'Ronda', value: 'Valor', no_measures: 'Sin mediciones de seguridad humana.', any: 'Todas', filter: 'Filtrar',
    reason_short: 'Motivo', loan: 'Préstamo', loans: 'Préstamos', bank_reference: 'Referencia bancaria',
    amount_hint: 'Importe con punto decimal, p. ej. 1500000.00.', record_repayment: 'Registrar pago',
    propose_drawdown: 'Proponer desembolso', propose_write_off: 'Proponer castigo', proposed: 'Propuesta',
    repayment_recorded: 'Pago registrado', repayment: 'Pago', allocation: 'Imputación del pago', bucket: 'Concepto',
    principal_by_tranche: 'Capital por tramo', b_fees: 'Comisiones', b_overdue_interest: 'Interés vencido',
    b_overdue_principal: 'Capital vencido', b_current_interest: 'Interés corriente', b_current_principal: 'Capital corriente',
    b_prepayment: 'Prepago de capital', csv_import: 'Importar extracto bancario (CSV)', csv_file: 'Archivo CSV',
    csv_text: 'Contenido CSV', csv_hint: 'Encabezado exacto: loan_id,amount,value_date,reference; una línea por pago.',
    import: 'Importar', lines: 'Líneas', applied: 'Aplicadas', refused: 'Rechazadas', amount_applied: 'Importe aplicado',
    per_line: 'Resultado por línea', line: 'Línea', status: 'Estado', detail: 'Detalle', r_applied: 'aplicada',
    r_refused: 'rechazada', arrears_par: 'Mora y cartera en riesgo', par: 'Cartera en riesgo', ratio: 'Proporción',
    arrears: 'Préstamos en mora', days_late: 'Días de mora', principal_arrears: 'Capital en mora',
    interest_arrears: 'Interés en mora', outstanding: 'Saldo de capital', no_arrears: 'Ningún préstamo en mora.',
    gross_portfolio: 'Cartera bruta', st_active: 'vigente', st_repaid: 'pagado', st_written_off: 'castigado',
    st_approved: 'aprobado', s_sourced: 'Identificado', s_screening: 'Preselección', s_due_diligence: 'Debida diligencia',
    s_committee: 'Comité', s_approved: 'Aprobado', s_active: 'Activo', s_repaid: 'Pagado', s_declined: 'Rechazado',
    s_withdrawn: 'Retirado', s_written_off: 'Castigado',
    investor_title: 'Su inversión', your_tranches: 'Sus tramos', tranche: 'Tramo', commitment: 'Compromiso',
    paid_in: 'Llamado y pagado', unfunded: 'Por llamar', dist_income: 'Distribuciones de rendimiento',
    dist_principal: 'Distribuciones de capital', capital: 'Capital', no_tranches: 'No tiene tramos en este fondo.',
    statements: 'Estados de cuenta', period_end: 'Fin del período', today: 'Hoy', show_statement: 'Ver resumen',
    open_printable: 'Abrir el estado completo (imprimible en A4)',
    print_hint: 'El estado completo se abre en esta pestaña; imprímalo con Ctrl+P (A4). Vuelva con Atrás.',
    statement_at: 'Estado al', capital_account: 'cuenta de capital', qtd: 'Trimestre', itd: 'Desde el inicio',
    ca_opening: 'Saldo inicial', ca_contributions: 'Aportes', ca_income_allocated: 'Rendimiento asignado',
    ca_distributions_income: 'Distribuciones de rendimiento', ca_distributions_principal: 'Distribuciones de capital',
    ca_losses_absorbed: 'Pérdidas absorbidas', ca_fees: 'Comisiones', ca_closing: 'Saldo final',
    iati_title: 'Publicación IATI', preview: 'Vista previa', publish: 'Publicar', checks: 'Verificaciones',
    rule: 'Regla', severity: 'Gravedad', message: 'Mensaje', location: 'Ubicación',
    no_problems: 'Ninguna verificación encontró problemas.', would_publish: 'Se puede publicar: sería la versión',
    would_refuse: 'No se puede publicar', changes: 'Cambios desde la última versión', version: 'Versión',
    against: 'frente a', none: 'ninguna', activities: 'actividades', transactions: 'transacciones',
    previous: 'Anterior', current: 'Nueva', change: 'Cambio', no_changes_refused: 'Sin cambios: la publicación sería rechazada.',
    totals_vs_ledger: 'Totales por tipo de transacción frente al libro mayor', tx_type: 'Tipo', tx_count: 'Transacciones',
    published: 'Publicado', ledger: 'Libro mayor', difference: 'Diferencia',
    withheld_note: 'La diferencia son préstamos a personas no publicados por grupo pequeño; préstamos retenidos:',
    history: 'Versiones publicadas', published_at: 'Fecha', downloads: 'Descargas',
    no_publications: 'Aún no hay publicaciones.', published_version: 'Publicada la versión',
    tx_1: 'Fondos entrantes', tx_2: 'Compromiso saliente', tx_3: 'Desembolso', tx_4: 'Gasto',
    tx_5: 'Pago de intereses', tx_6: 'Reembolso de préstamo', tx_11: 'Compromiso entrante',
    auditor_title: 'Auditoría', trial_balance: 'Balance de comprobación', account_code: 'Cuenta',
    account_name: 'Nombre', debit: 'Débito', credit: 'Crédito', total: 'Total', journal: 'Libro diario',
    all_accounts: 'Todas las cuentas', account: 'Cuenta', from: 'Desde', to: 'Hasta', show: 'Mostrar',
    more: 'Más', j_entry: 'Asiento', date: 'Fecha', memo: 'Concepto', no_entries: 'Ningún asiento.',
    audit_log: 'Registro de auditoría', user: 'Usuario', action: 'Acción', object: 'Objeto',
    verify_hint: 'Recalcula la cadena de hashes, las anclas firmadas, cada saldo y el origen de cada asiento (lo mismo que fundledger verify). No cambia los libros.',
    verify_title: 'Verificación del libro', verify_run: 'Verificar ahora', verify_running: 'Verificando…',
    verify_ok: 'Correcto: no se encontró ningún problema', verify_failed: 'Con problemas', verify_problems: 'problemas',
    verify_when: 'Cuándo', verify_by: 'Por', verify_entries: 'Asientos verificados', verify_result: 'Resultado',
    verify_chain: 'Encadenados / sin sellar / cuentas / anclas', verify_via_cli: 'línea de comandos', verify_via_api: 'consola',
    verify_never: 'Aún no se ha ejecutado ninguna verificación.', verify_history: 'Verificaciones recientes',
    verify_listed: 'Problemas listados:',
    wo_amount: 'Importe a castigar', allowance_held: 'Provisión constituida para el préstamo',
    allowance_used: 'Provisión que se usa', loss_beyond: 'Pérdida no cubierta por la provisión',
    loss_by_tranche: 'Cómo cae la pérdida en los tramos (de abajo hacia arriba)', seniority: 'Prelación',
    absorbed: 'Pérdida absorbida', capital_after: 'Capital después', unabsorbed: 'Pérdida que excede el capital de todos los tramos',
    investor: 'Inversionista', return_rate: 'Tasa de retorno', fee_rate: 'Tasa de comisión', signed_date: 'Fecha de firma',
    tk_first_loss: 'primera pérdida', tk_mezzanine: 'mezzanine', tk_senior: 'senior',
    effective_date: 'Fecha contable', entry_lines: 'Líneas del asiento', details: 'Detalle',
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
    k_loan_charge: 'Loan charge',
    k_fund_settings: 'Fund settings', proposal: 'Proposal',
    drawn: 'Already drawn', conditions: 'Conditions precedent', funding: 'Funding by tranche',
    your_limit: 'Your approval limit', no_limit: 'No approval limit in',
    within_limit: 'Within your limit', over_limit: 'Over your limit: a second approver is needed',
    limit_check: 'Limit',
    c_signed_agreement: 'signed agreement', c_kyc: 'know your customer',
    c_sanctions_screening: 'sanctions screening', c_bank_account_verified: 'bank account verified',
    usury: 'Usury cap', cap_on: 'Usury cap on', no_cap: 'No usury cap certified on',
    margin_under: 'margin under the cap', missing: 'missing', funding_cash: 'Funding by tranche and each tranche\'s cash',
    share: 'Share', cash_now: 'Cash available today', schedule: 'Payment schedule', instalment: 'Instalment',
    due_date: 'Due date', interest: 'Interest', first_due: 'First due date',
    left_after: 'left after this proposal', decisions: 'Earlier decisions',
    loan_proposal: 'Propose a loan', entrepreneur_committee: 'Entrepreneur (at committee)',
    annual_rate: 'Effective annual rate (fraction)', rate_hint: 'As a fraction with a point: 0.2400 is 24 % EA. "Preview schedule" shows the schedule approval will store, proposing nothing.',
    preview_schedule: 'Preview schedule', capital_calls: 'Capital calls and contributions', call_no: 'Call', call_date: 'Call date',
    contributed: 'Contributed', contributions_list: 'Contributions received', received_date: 'Received', reference: 'Reference',
    no_calls: 'no capital call.', no_contributions: 'no contribution.', schedule_preview: 'Schedule (preview, nothing stored)',
    approval_date_label: 'Approval date (empty: today)', interest_total: 'Total interest', balance_after: 'Balance', instalment_no: 'No.',
    per_year_label: 'Payments per year', term_count: 'Number of payments', amortisation: 'Amortisation', modality: 'Modality',
    am_annuity: 'Annuity', am_equal_principal: 'Equal principal', am_bullet: 'Bullet',
    propose_loan: 'Propose loan', no_committee: 'No entrepreneur at committee.',
    manager_title: 'Fund management', pipeline: 'Pipeline', women_led: 'Women-led',
    youth_led: 'Youth-led', victims: 'Conflict victims', stage: 'Stage', municipality: 'Municipality',
    municipality_code: 'Municipality DANE code', municipality_hint: 'Five digits (e.g. 52250); empty: all.',
    value_chain: 'Value chain', requested: 'Requested', purpose: 'Purpose', focus: 'Focus', members: 'Members',
    stage_history: 'Stage history', hs_baseline: 'Human-security baseline', dimension: 'Dimension',
    round: 'Round', value: 'Value', no_measures: 'No human-security measures.', any: 'All', filter: 'Filter',
    reason_short: 'Reason', loan: 'Loan', loans: 'Loans', bank_reference: 'Bank reference',
    amount_hint: 'Amount with a decimal point, e.g. 1500000.00.', record_repayment: 'Record repayment',
    propose_drawdown: 'Propose drawdown', propose_write_off: 'Propose write-off', proposed: 'Proposal',
    repayment_recorded: 'Repayment recorded', repayment: 'Repayment', allocation: 'Allocation of the payment', bucket: 'Bucket',
    principal_by_tranche: 'Principal by tranche', b_fees: 'Fees', b_overdue_interest: 'Overdue interest',
    b_overdue_principal: 'Overdue principal', b_current_interest: 'Current interest', b_current_principal: 'Current principal',
    b_prepayment: 'Principal prepayment', csv_import: 'Import a bank statement (CSV)', csv_file: 'CSV file',
    csv_text: 'CSV content', csv_hint: 'Exact header: loan_id,amount,value_date,reference; one line per payment.',
    import: 'Import', lines: 'Lines', applied: 'Applied', refused: 'Refused', amount_applied: 'Amount applied',
    per_line: 'Result per line', line: 'Line', status: 'Status', detail: 'Detail', r_applied: 'applied',
    r_refused: 'refused', arrears_par: 'Arrears and portfolio at risk', par: 'Portfolio at risk', ratio: 'Ratio',
    arrears: 'Loans in arrears', days_late: 'Days past due', principal_arrears: 'Principal in arrears',
    interest_arrears: 'Interest in arrears', outstanding: 'Principal outstanding', no_arrears: 'No loan in arrears.',
    gross_portfolio: 'Gross portfolio', st_active: 'active', st_repaid: 'repaid', st_written_off: 'written off',
    st_approved: 'approved', s_sourced: 'Sourced', s_screening: 'Screening', s_due_diligence: 'Due diligence',
    s_committee: 'Committee', s_approved: 'Approved', s_active: 'Active', s_repaid: 'Repaid', s_declined: 'Declined',
    s_withdrawn: 'Withdrawn', s_written_off: 'Written off',
    investor_title: 'Your investment', your_tranches: 'Your tranches', tranche: 'Tranche', commitment: 'Commitment',
    paid_in: 'Called and paid in', unfunded: 'Still to call', dist_income: 'Income distributions',
    dist_principal: 'Capital distributions', capital: 'Capital', no_tranches: 'You have no tranches in this fund.',
    statements: 'Statements', period_end: 'Period end', today: 'Today', show_statement: 'Show summary',
    open_printable: 'Open the full statement (printable on A4)',
    print_hint: 'The full statement opens in this tab; print it with Ctrl+P (A4). Come back with Back.',
    statement_at: 'Statement as of', capital_account: 'capital account', qtd: 'Quarter', itd: 'Since inception',
    ca_opening: 'Opening balance', ca_contributions: 'Contributions', ca_income_allocated: 'Income allocated',
    ca_distributions_income: 'Income distributions', ca_distributions_principal: 'Capital distributions',
    ca_losses_absorbed: 'Losses absorbed', ca_fees: 'Fees', ca_closing: 'Closing balance',
    iati_title: 'IATI publication', preview: 'Preview', publish: 'Publish', checks: 'Checks',
    rule: 'Rule', severity: 'Severity', message: 'Message', location: 'Location',
    no_problems: 'No check found a problem.', would_publish: 'Can be published: it would be version',
    would_refuse: 'Cannot be published', changes: 'Changes since the last version', version: 'Version',
    against: 'against', none: 'none', activities: 'activities', transactions: 'transactions',
    previous: 'Previous', current: 'New', change: 'Change', no_changes_refused: 'No changes: the publication would be refused.',
    totals_vs_ledger: 'Totals per transaction type against the ledger', tx_type: 'Type', tx_count: 'Transactions',
    published: 'Published', ledger: 'Ledger', difference: 'Difference',
    withheld_note: 'The difference is loans to persons withheld as a small group; loans withheld:',
    history: 'Published versions', published_at: 'Date', downloads: 'Downloads',
    no_publications: 'Nothing published yet.', published_version: 'Published version',
    tx_1: 'Incoming funds', tx_2: 'Outgoing commitment', tx_3: 'Disbursement', tx_4: 'Expenditure',
    tx_5: 'Interest payment', tx_6: 'Loan repayment', tx_11: 'Incoming commitment',
    auditor_title: 'Audit', trial_balance: 'Trial balance', account_code: 'Account',
    account_name: 'Name', debit: 'Debit', credit: 'Credit', total: 'Total', journal: 'Journal',
    all_accounts: 'All accounts', account: 'Account', from: 'From', to: 'To', show: 'Show',
    more: 'More', j_entry: 'Entry', date: 'Date', memo: 'Memo', no_entries: 'No entries.',
    audit_log: 'Audit log', user: 'User', action: 'Action', object: 'Object',
    verify_hint: 'Recomputes the hash chain, the signed anchors, every balance and the origin of every entry (what fundledger verify does). It does not change the books.',
    verify_title: 'Ledger verification', verify_run: 'Run verify now', verify_running: 'Verifying…',
    verify_ok: 'OK: no problem found', verify_failed: 'Problems found', verify_problems: 'problems',
    verify_when: 'When', verify_by: 'By', verify_entries: 'Entries checked', verify_result: 'Result',
    verify_chain: 'Chained / unsealed / accounts / anchors', verify_via_cli: 'command line', verify_via_api: 'console',
    verify_never: 'No verification has run yet.', verify_history: 'Recent verifications',
    verify_listed: 'Problems listed:',
    wo_amount: 'Amount to write off', allowance_held: 'Allowance held for the loan',
    allowance_used: 'Allowance used', loss_beyond: 'Loss beyond the allowance',
    loss_by_tranche: 'How the loss falls on the tranches (bottom-up)', seniority: 'Seniority',
    absorbed: 'Loss absorbed', capital_after: 'Capital after', unabsorbed: 'Loss beyond every tranche\'s capital',
    investor: 'Investor', return_rate: 'Return rate', fee_rate: 'Fee rate', signed_date: 'Signed',
    tk_first_loss: 'first loss', tk_mezzanine: 'mezzanine', tk_senior: 'senior',
    effective_date: 'Effective date', entry_lines: 'Entry lines', details: 'Details',
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

// A rate as a percentage, from its decimal string ("0.2450" -> "24,50 %"): digits moved, never a binary fraction.
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
