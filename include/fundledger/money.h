/* money: exact amounts as int64 minor units with an ISO 4217 currency. No floating point. */
#ifndef FUNDLEDGER_MONEY_H
#define FUNDLEDGER_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 128-bit intermediates for products of amounts and weights (GCC extension, hence __extension__). */
__extension__ typedef __int128 money_i128;

/* Largest text a formatted amount needs: sign, 19 digits, point, NUL, with room to spare. */
#define MONEY_TEXT_MAX 32

typedef enum money_status {
    MONEY_OK = 0,
    MONEY_ERR_EMPTY,     /* "" or only a sign */
    MONEY_ERR_SYNTAX,    /* anything but [-]digits[.digits]: spaces, exponents, "+", "1.", ".5" */
    MONEY_ERR_PRECISION, /* more decimals than the currency has */
    MONEY_ERR_OVERFLOW,  /* does not fit int64 minor units */
    MONEY_ERR_NEGATIVE,  /* a minus sign where the caller does not allow one */
    MONEY_ERR_CURRENCY,  /* not an active ISO 4217 code */
    MONEY_ERR_LIMIT,     /* above MONEY_AMOUNT_MAX minor units (money_parse_amount) */
} money_status;

/* A short English phrase for a status, for error messages. Static storage. */
const char *money_status_text(money_status st);

/* The ISO 4217 minor-unit exponent of an active currency code ("COP" -> 2, "JPY" -> 0,
 * "BHD" -> 3), or -1 when the code is unknown. Code must be three upper-case letters. */
int money_currency_exponent(const char *code);

/* true when code is an active ISO 4217 code. */
bool money_currency_valid(const char *code);

/* Parses a decimal string into minor units for a currency of the given exponent.
 * Accepted: optional '-', digits, optionally '.' and 1..exponent digits. "1234.5" with
 * exponent 2 is 123450. Leading zeros are allowed. Nothing else is: no '+', spaces,
 * exponents, thousands separators, trailing '.', or leading '.'.
 * allow_negative=false makes "-..." MONEY_ERR_NEGATIVE ("-0" too). On error *out is untouched. */
money_status money_parse(const char *text, int exponent, bool allow_negative, int64_t *out);

/* An amount a client or an operator gives: money_parse with allow_negative false, then at most
 * MONEY_AMOUNT_MAX minor units (limits.h); anything larger, int64 overflow included, is
 * MONEY_ERR_LIMIT. "10000000000000.00" with exponent 2 is the largest; "10000000000000.01" is
 * MONEY_ERR_LIMIT. money_parse stays the int64 parser for figures read back from the database. */
money_status money_parse_amount(const char *text, int exponent, int64_t *out);

/* Formats minor units with exactly `exponent` decimals: 123450, 2 -> "1234.50";
 * -1, 2 -> "-0.01"; 5, 0 -> "5". Returns the length written (excluding NUL), or 0 when
 * cap is too small. buf must hold MONEY_TEXT_MAX bytes to be always enough. */
size_t money_format(int64_t minor, int exponent, char *buf, size_t cap);

/* Largest text of money_format_wide: sign, 39 digits, point, NUL, with room to spare. */
#define MONEY_WIDE_TEXT_MAX 48

/* money_format for a 128-bit figure (a total of int64 amounts, which cannot overflow 128 bits:
 * 2^63 * 2^63 < 2^127): 20000000000000000000, 2 -> "200000000000000000.00". buf must hold
 * MONEY_WIDE_TEXT_MAX bytes to be always enough. */
size_t money_format_wide(money_i128 minor, int exponent, char *buf, size_t cap);

/* Checked arithmetic: false on int64 overflow, *out untouched then. */
bool money_add(int64_t a, int64_t b, int64_t *out);
bool money_sub(int64_t a, int64_t b, int64_t *out);

/* num / den rounded half-even to an integer (den != 0; either sign). false if the result
 * does not fit int64. */
bool money_div_half_even(money_i128 num, money_i128 den, int64_t *out);

/* Splits total into n parts proportional to weights (each >= 0, at least one > 0) by the
 * largest-remainder (Hamilton) method: every part is floor(total*w/W), then the leftover
 * units go one each to the parts with the largest remainders; ties go to the lower index
 * (callers order parts by their fixed tie-break key, e.g. seniority then id). A negative
 * total is split as -(split of -total). The parts always sum exactly to total.
 * Returns false (parts untouched) on n == 0, a negative weight, all weights zero or overflow. */
bool money_split(int64_t total, const int64_t *weights, size_t n, int64_t *parts);

#endif
