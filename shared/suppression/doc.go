// Package suppression is each tenant's suppression list: the contacts who
// asked not to receive business-initiated messages (templates, campaigns)
// and the stop keywords that put them there.
//
// # The list
//
// Store keeps one item per tenant and contact in the suppressions table,
// keyed like the template catalog: pk "tenant#{tenant_id}", sk the
// contact's key (Key). A tenant's list is one partition, read in pages
// with Query; nothing crosses tenants because every call names the tenant.
// Items never expire: an opt-out lasts until the core removes it.
//
// A contact is a phone number (wa_id, digits) or a business-scoped user id
// (BSUID). Key folds a number to one form, so a Brazilian mobile number
// with or without its ninth digit, or a Mexican one with or without the 1
// after 52, is one entry (the forms Meta's wa_id and a CRM's number take;
// see identity.Variants).
//
// # Stop keywords
//
// Match tells whether an inbound text is one of the tenant's stop keywords:
// the whole message, trimmed of spaces and surrounding punctuation, in any
// case and with or without accents. DefaultKeywords apply to a tenant that
// configured none. Matching is pure: checking a message costs no call.
package suppression
