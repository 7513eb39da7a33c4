// Package deployed holds the end-to-end checks run against a deployed
// wacloud stack (make test-aws STACK=… REGION=…): webhook verification,
// signed and unsigned posts, deduplicated storage, an invalid outbound job
// dead-lettered with its reason, and no credential in any answer.
//
// The same checks run in every test run against the local connector, so
// the suite itself is tested where no AWS account exists: with
// WACLOUD_DEPLOYED_STACK set they run against that stack instead, with
// the credentials and region of the usual AWS configuration. Resource
// names come from the stack's outputs; the throw-away tenant the suite
// onboards is deleted at the end, whatever the outcome.
package deployed
