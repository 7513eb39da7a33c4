// Package manage is the ApiFunction: the management API the TucanLink core
// calls over HTTP, under /v1 on the same HTTP API as the webhook.
//
// # Authentication and tenants
//
// API Gateway's JWT authorizer has already checked the bearer token
// (signature, issuer, audience, expiry) before a request reaches the
// function; the function verifies nothing cryptographic. What it does check
// is the tenant: the token's standard OAuth2 "scope" claim (space-separated)
// lists the tenants it may act for as "tenant:{tenant_id}" values, and every
// route with a {tenant_id} refuses a tenant the token does not name (403).
// API Gateway passes the claims as strings, so a space-separated scope
// survives where an array claim would arrive flattened ("[a b]").
//
// # Routes
//
// Each route group lives in its own file and is listed in routes.go; a
// route is found by the API Gateway route key ("POST
// /v1/tenants/{tenant_id}/messages"), the same key the template declares
// for it, so an unknown route never reaches a handler.
//
// # Errors
//
// Every error answers {"error":{"code","message","details"}} with a 4xx or
// 5xx status (see Error). Bad input is always a 4xx naming what is wrong;
// internal error text never leaves the function (it is logged instead).
package manage
