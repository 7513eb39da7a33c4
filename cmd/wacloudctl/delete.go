package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// tenantDelete offboards a tenant: its registry items (tenant, numbers,
// WABAs) in one transaction, then its credentials. Message records and
// stored media are kept until their retention ends.
func tenantDelete(ctx context.Context, a *app, args []string) error {
	fs := a.flags("--id ID [--yes] [--keep-secrets]")
	id := fs.String("id", "", "tenant id")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	keep := fs.Bool("keep-secrets", false, "leave the tenant's secrets in Secrets Manager")
	if err := fs.Parse(args); err != nil {
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
	if err := a.confirm(*yes, "Delete tenant %s (%s) and its %d number(s)? Its webhooks and jobs will be refused from now on.", t.ID, t.Name, len(t.PhoneNumbers)); err != nil {
		return err
	}
	t, err = reg.Delete(ctx, *id)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "tenant %s deleted: %d number(s), %d WABA(s)\n", t.ID, len(t.PhoneNumbers), len(t.WABAIDs))
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
	if a.names.WebhookSecretPrefix != "" {
		// Its webhook-side secret, when it has one (own Meta app).
		ids = append(ids, a.names.WebhookSecretPrefix+id)
	}
	return ids
}
