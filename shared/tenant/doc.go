// Package tenant knows which company (tenant) owns a WhatsApp business
// number and holds each tenant's Meta credentials.
//
// Registry reads the tenant registry in DynamoDB: one item per tenant
// ("tenant#{id}"), per business phone number ("phone#{phone_number_id}")
// and per WhatsApp Business Account ("waba#{waba_id}"). Vault reads the
// credentials from Secrets Manager. Both cache in memory, so a warm
// function instance makes no AWS call for a tenant it has seen recently.
//
// Each Meta app's credentials are split in two secrets, so that the
// internet-facing webhook never holds an access token: the sending secret
// (Credentials: the access token, named by the tenant item's secret_id,
// {SecretPrefix}/tenants/{tenant_id}), read by the functions that call the
// Graph API, and the webhook-side secret (AppCredentials: app secret and
// verify token, {SecretPrefix}/webhook/tenants/{tenant_id}, or
// {SecretPrefix}/webhook/platform for the platform app), read by the
// webhook only.
//
// Isolation rule: credentials are looked up by tenant id only, and a number
// or WABA resolves to exactly one tenant; callers that receive a tenant id
// from outside (a job, a route) must check the number belongs to it with
// Number.TenantID before using the tenant's credentials.
package tenant
