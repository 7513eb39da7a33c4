// Package catalog keeps each tenant's message templates as Meta last
// reported them, so the sender can check a template job before it calls
// Meta and the management API can list templates without asking Meta.
//
// Store holds one item per template in the templates table: partition key
// "tenant#{tenant_id}", sort key "{waba_id}#{name}#{language}", with the
// template's status, category, quality, parameter format, components
// (Meta's JSON, as listed) and synced_at. A tenant's templates are one
// Query; a job's template is one GetItem.
//
// The catalog follows Meta three ways: Syncer pages through GET
// /{waba-id}/message_templates and upserts every template, removing those
// Meta no longer lists (only after a complete listing); the status
// function applies template status, quality and category webhooks to the
// item (Store.Apply), never going back to an older state; and Handler, run
// on a schedule, syncs every active tenant to repair drift (a missed
// webhook, a template created in WhatsApp Manager). Onboarding syncs a new
// tenant with Syncer.SyncTenant.
//
// The catalog may lag Meta: a template it does not know is not an error
// for the sender, which then leaves the decision to Meta.
package catalog
