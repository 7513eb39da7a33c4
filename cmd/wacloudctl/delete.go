package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/tucanlink/wacloud/shared/onboard"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// tenantDelete offboards a tenant: its registry items (tenant, numbers,
// WABAs) in one transaction, then its credentials. Message records and
// stored media are kept until their retention ends, unless --purge
// deletes them now.
func tenantDelete(ctx context.Context, a *app, args []string) error {
	fs := a.flags("--id ID [--yes] [--keep-secrets] [--purge]")
	id := fs.String("id", "", "tenant id")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	keep := fs.Bool("keep-secrets", false, "leave the tenant's secrets in Secrets Manager")
	purge := fs.Bool("purge", false, "also delete its stored data now: media (every version), message records, job records, its numbers' windows and rate limits")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *id == "" {
		return usageErr("--id is required")
	}
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	t, err := reg.Tenant(ctx, *id)
	if err != nil {
		return err
	}
	what := ""
	if *purge {
		if err := a.needPurge(); err != nil {
			return err
		}
		what = " Its media, message, job, campaign and suppression records are deleted too, for good."
	}
	if err := a.confirm(*yes, "Delete tenant %s (%s) and its %d number(s)? Its webhooks and jobs will be refused from now on.%s", t.ID, t.Name, len(t.PhoneNumbers), what); err != nil {
		return err
	}
	t, err = reg.Delete(ctx, *id)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "tenant %s deleted: %d number(s), %d WABA(s)\n", t.ID, len(t.PhoneNumbers), len(t.WABAIDs))
	if *purge {
		if err := purgeTenant(ctx, a, t); err != nil {
			return fmt.Errorf("purge the data of tenant %s (it is deleted, its secrets are not yet; finish with 'wacloudctl tenant purge --id %s%s' and delete its secrets by hand): %w",
				t.ID, t.ID, numberFlags(t.PhoneNumbers)+wabaFlags(t.WABAIDs), err)
		}
	}
	if *keep {
		return nil
	}
	sm, err := a.secrets(ctx)
	if err != nil {
		return err
	}
	for _, secretID := range tenantSecretIDs(a, t.ID, t.SecretID) {
		_, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(secretID), ForceDeleteWithoutRecovery: aws.Bool(true)})
		var nf *smtypes.ResourceNotFoundException
		switch {
		case errors.As(err, &nf):
		case err != nil:
			return fmt.Errorf("delete secret %s (the tenant is deleted; delete the secret by hand or run again with --keep-secrets): %w", secretID, err)
		default:
			fmt.Fprintf(a.Stdout, "secret %s deleted\n", secretID)
		}
	}
	return nil
}

// tenantSecretIDs lists every secret that holds a credential of tenant id.
func tenantSecretIDs(a *app, id, secretID string) []string {
	ids := []string{secretID}
	if secretID == "" {
		ids = []string{a.names.SecretPrefix + id}
	}
	if a.names.SecretPrefix != "" {
		// Its registration PIN, when onboarding registered its number.
		ids = append(ids, onboard.PINSecretID(a.names.SecretPrefix, id))
	}
	if a.names.WebhookSecretPrefix != "" {
		// Its webhook-side secret, when it has one (own Meta app).
		ids = append(ids, a.names.WebhookSecretPrefix+id)
	}
	return ids
}

func wabaFlags(ids []string) string {
	s := ""
	for _, id := range ids {
		s += " --waba-id " + id
	}
	return s
}

func numberFlags(ids []string) string {
	s := ""
	for _, id := range ids {
		s += " --phone-number-id " + id
	}
	return s
}

// tenantPurge deletes the stored data of a tenant no longer registered:
// what 'tenant delete --purge' does after the delete, for a delete made
// without --purge or a purge that stopped half-way.
func tenantPurge(ctx context.Context, a *app, args []string) error {
	fs := a.flags("--id ID [--phone-number-id ID ...] [--waba-id ID ...] [--yes]")
	id := fs.String("id", "", "id of the deleted tenant")
	var numbers, wabas list
	fs.Var(&numbers, "phone-number-id", "a number it had, whose windows, rate limits and health go too (repeat)")
	fs.Var(&wabas, "waba-id", "a WhatsApp Business Account it had, whose messaging-limit counts go too (repeat)")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *id == "" {
		return usageErr("--id is required")
	}
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	if _, err := reg.Tenant(ctx, *id); err == nil {
		return fmt.Errorf("tenant %s is registered: delete it first ('tenant delete --purge')", *id)
	} else if !errors.Is(err, tenant.ErrNotFound) {
		return err
	}
	for _, n := range numbers {
		if got, err := reg.Number(ctx, n); err == nil {
			return fmt.Errorf("number %s is registered to tenant %s now: its windows and rate limits are that tenant's; leave it out", n, got.TenantID)
		}
	}
	for _, w := range wabas {
		if owner, err := reg.TenantOfWABA(ctx, w); err == nil {
			return fmt.Errorf("WABA %s is registered to tenant %s now: its messaging-limit counts are that tenant's; leave it out", w, owner)
		}
	}
	if err := a.needPurge(); err != nil {
		return err
	}
	if err := a.confirm(*yes, "Delete the media, message, job, campaign and suppression records of tenant %s for good?", *id); err != nil {
		return err
	}
	return purgeTenant(ctx, a, tenant.Tenant{ID: *id, PhoneNumbers: numbers, WABAIDs: wabas})
}
