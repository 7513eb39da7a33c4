package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/tucanlink/wacloud/shared/fault"
)

// SecretsAPI is the part of the Secrets Manager client Vault uses.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Vault reads credentials from Secrets Manager and keeps them in memory for
// TTL, so a warm instance fetches each secret once. It is safe for
// concurrent use; concurrent misses for the same secret make one call.
type Vault struct {
	API SecretsAPI
	TTL time.Duration
	Now func() time.Time

	mu      sync.Mutex
	entries map[string]*vaultEntry
}

type vaultEntry struct {
	once    sync.Once
	creds   Credentials
	err     error
	expires time.Time
}

// Credentials returns the credentials stored in secret secretID. Errors never
// contain the secret's value.
func (v *Vault) Credentials(ctx context.Context, secretID string) (Credentials, error) {
	now := v.now()
	v.mu.Lock()
	if v.entries == nil {
		v.entries = map[string]*vaultEntry{}
	}
	e, ok := v.entries[secretID]
	if !ok || (!e.expires.IsZero() && !now.Before(e.expires)) {
		e = &vaultEntry{}
		v.entries[secretID] = e
	}
	v.mu.Unlock()

	e.once.Do(func() {
		e.creds, e.err = v.fetch(ctx, secretID)
		// Read under v.mu by other callers of this entry.
		v.mu.Lock()
		e.expires = v.now().Add(v.ttl())
		v.mu.Unlock()
		if e.err != nil {
			// Do not cache failures: the next call tries again.
			v.Invalidate(secretID)
		}
	})
	return e.creds, e.err
}

// Invalidate drops the cached copy of secretID, for example after Meta
// rejected its access token (error 190).
func (v *Vault) Invalidate(secretID string) {
	v.mu.Lock()
	delete(v.entries, secretID)
	v.mu.Unlock()
}

func (v *Vault) fetch(ctx context.Context, secretID string) (Credentials, error) {
	out, err := v.API.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)})
	if err != nil {
		var nf *smtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return Credentials{}, fault.PermanentErr(fmt.Errorf("read secret %s: %w", secretID, ErrNotFound))
		}
		return Credentials{}, fault.Retryable(fmt.Errorf("read secret %s: %w", secretID, err))
	}
	var c Credentials
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &c); err != nil {
		// The JSON error could quote the secret: leave it out.
		return Credentials{}, fault.PermanentErr(fmt.Errorf("read secret %s: value is not a credentials JSON object", secretID))
	}
	return c, nil
}

func (v *Vault) ttl() time.Duration {
	if v.TTL > 0 {
		return v.TTL
	}
	return 5 * time.Minute
}

func (v *Vault) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}
