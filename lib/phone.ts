/**
 * Phone numbers: every account is named by its number in E.164 form
 * ("+12025550123"), parsed and checked with libphonenumber-js (its default
 * "min" metadata; a number is valid when `isValid()` says so, docs/protocol.md §6.1).
 *
 * @module
 */
import { type CountryCode, parsePhoneNumberWithError } from "libphonenumber-js";
import { SspError } from "./errors.ts";

/**
 * A number to show in help and hints: valid, so a user who copies it gets
 * past the check (US 202-555-0100…0199 are reserved for fiction).
 */
export const EXAMPLE_PHONE = "+12025550123";

/** E.164 shape: "+", a non-zero digit, at most 15 digits in all. */
export const E164_PATTERN = /^\+[1-9]\d{1,14}$/;

/**
 * Normalises `input` to E.164. Numbers in national format need `region`
 * (an ISO 3166 code such as "US" or "IN"). Throws SspError "invalid_phone".
 */
export function normalizePhone(input: string, region?: string): string {
  let number;
  try {
    number = parsePhoneNumberWithError(input, region?.toUpperCase() as CountryCode | undefined);
  } catch (cause) {
    throw invalid(input, region, cause);
  }
  if (!number.isValid()) throw invalid(input, region);
  return number.number;
}

/** True if `phone` is already a valid number in E.164 form. */
export function isE164(phone: string): boolean {
  if (!E164_PATTERN.test(phone)) return false;
  try {
    return normalizePhone(phone) === phone;
  } catch {
    return false;
  }
}

function invalid(input: string, region: string | undefined, cause?: unknown): SspError {
  return new SspError("invalid_phone", `"${input}" is not a valid phone number`, {
    hint: input.startsWith("+") || region
      ? `check the digits; write it as +<country code><number>, e.g. ${EXAMPLE_PHONE}`
      : `write it with the country code (${EXAMPLE_PHONE}) or pass --region (e.g. --region US)`,
    ...(cause === undefined ? {} : { cause }),
  });
}
