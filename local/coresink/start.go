package coresink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretWriter writes a secret's value (*secretsmanager.Client).
type SecretWriter interface {
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// Start serves a sink on a loopback port, with fresh credentials written
// to the core's secret secretID (the stack's CoreSecret), so that
// functions set up from the stack's environment, with CORE_URL set to the
// server's URL, push to it. path is the events path (CORE_EVENTS_PATH).
// The caller closes the server.
func Start(ctx context.Context, sm SecretWriter, secretID, path string, log *slog.Logger) (*Sink, *httptest.Server, error) {
	token, signing := randomHex(), randomHex()
	value, _ := json.Marshal(map[string]string{"bearer_token": token, "signing_secret": signing})
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(secretID), SecretString: aws.String(string(value))}); err != nil {
		return nil, nil, fmt.Errorf("core sink: write the core secret: %w", err)
	}
	s := New(Config{Path: path, BearerToken: token, SigningSecret: signing, Log: log})
	return s, httptest.NewServer(s), nil
}

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
