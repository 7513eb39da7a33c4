// Package onboard takes a company from what Meta's Embedded Signup hands
// the browser (a code, the WABA id and the phone number id) to a tenant the
// connector serves, in steps:
//
//	exchange_code    GET /oauth/access_token; the token goes to the tenant's
//	                 sending secret {SecretPrefix}/tenants/{id}, never to DynamoDB
//	check_token      GET /debug_token: valid, both WhatsApp scopes, the WABA granted
//	find_number      GET /{waba}/phone_numbers lists the number
//	subscribe_app    POST /{waba}/subscribed_apps
//	register_number  POST /{number}/register with the tenant's PIN, when the
//	                 number is not CONNECTED yet; the PIN (6 digits, generated
//	                 once) is kept in {SecretPrefix}/tenants/{id}/pin
//	store_tenant     the webhook-side secret (platform app secret, a generated
//	                 verify token kept across runs) and the registry entries
//	sync_templates   the tenant's template catalog
//	notify_core      account.onboarded on the core events queue
//
// The state is the item onboarding#{id} of the state table, id derived from
// the tenant, WABA and number (ID), so a repeated request finds it: each
// step done is recorded and skipped by a later run, and a failed step keeps
// Meta's error until a run gets past it. A retry therefore continues where
// the last run stopped; an exchange code is single-use at Meta (error 100,
// subcode 36009 when reused), which does not matter once exchange_code is
// done.
package onboard
