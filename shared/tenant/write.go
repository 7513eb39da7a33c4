package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// SecretWriterAPI is the part of the Secrets Manager client PutSecret uses.
type SecretWriterAPI interface {
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// PutSecret creates the secret name with v's JSON, or writes a new version
// when it exists already. v is a Credentials, AppCredentials or another
// secret's JSON shape (those types hide their fields from fmt, not from
// encoding/json: the tags are the contract). Errors name the secret, never
// its value.
func PutSecret(ctx context.Context, sm SecretWriterAPI, name string, v any, description string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode secret %s: %w", name, err)
	}
	value := string(b)
	_, err = sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(value), Description: aws.String(description),
	})
	if err == nil {
		return nil
	}
	var exists *smtypes.ResourceExistsException
	if !errors.As(err, &exists) && !strings.Contains(err.Error(), "ResourceExists") {
		return fmt.Errorf("create secret %s: %w", name, err)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)}); err != nil {
		return fmt.Errorf("write secret %s: %w", name, err)
	}
	return nil
}

// SecretReaderAPI is the part of the Secrets Manager client ReadSecret uses.
type SecretReaderAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ReadSecret returns a secret's value uncached, or found false when it
// does not exist.
func ReadSecret(ctx context.Context, sm SecretReaderAPI, id string) (string, bool, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	var nf *smtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read secret %s: %w", id, err)
	}
	return aws.ToString(out.SecretString), true, nil
}
