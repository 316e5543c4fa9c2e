/** Checks of single string values: each returns what was expected (with the fix), or undefined when the value is fine. */
import { DNS_SUBDOMAIN } from "../model/names";

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

export function checkDomain(v: string): string | undefined {
    return DNS_SUBDOMAIN.test(v) && v.includes(".")
        ? undefined
        : "expected a fully qualified DNS name in lower case, e.g. openfaas.example.com (no scheme, no port)";
}

export function checkEmail(v: string): string | undefined {
    return EMAIL.test(v) ? undefined : "expected an e-mail address for the Let's Encrypt account, e.g. ops@example.com";
}

export function checkAdminUser(v: string): string | undefined {
    return /^[A-Za-z0-9._-]{1,64}$/.test(v) ? undefined : "expected 1-64 characters of A-Z a-z 0-9 . _ - (it is a basic-auth user name, so no ':')";
}

export function checkPassword(v: string): string | undefined {
    return v.length >= 16 ? undefined : "expected at least 16 characters; or unset it and a random one is generated";
}


/** A generated-or-supplied token: long enough that guessing it is hopeless, and safe in a header. */
export function checkToken(v: string): string | undefined {
    return /^[\x21-\x7e]{24,}$/.test(v) ? undefined : "expected at least 24 printable characters without spaces; or unset it and one is generated";
}
