package lambdamain

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/local/awsemu"
)

// lambdaEnv is what Lambda sets for a function (values made up).
func lambdaEnv() map[string]string {
	return map[string]string{
		"AWS_REGION": "sa-east-1", "AWS_DEFAULT_REGION": "sa-east-1",
		"AWS_ACCESS_KEY_ID": "ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret-example", "AWS_SESSION_TOKEN": "token-example",
		"AWS_LAMBDA_FUNCTION_NAME": "wacloud-WebhookFunction", "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
		"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793",
	}
}

// TestConfigFromLambdaEnvironment holds the configuration built from the
// environment to LoadDefaultConfig's for the same variables, and checks
// that anything LoadDefaultConfig would read beyond them makes Config use
// LoadDefaultConfig.
func TestConfigFromLambdaEnvironment(t *testing.T) {
	tests := []struct {
		name     string
		set      map[string]string
		unset    []string
		fromEnv  bool
		endpoint string
	}{
		{name: "Lambda", fromEnv: true},
		{name: "local endpoint", set: map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, fromEnv: true, endpoint: "http://127.0.0.1:4566"},
		{name: "default region only", unset: []string{"AWS_REGION"}, fromEnv: true},
		{name: "no session token", unset: []string{"AWS_SESSION_TOKEN"}, fromEnv: true},
		{name: "no region", unset: []string{"AWS_REGION", "AWS_DEFAULT_REGION"}},
		{name: "no keys", unset: []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}},
		{name: "profile", set: map[string]string{"AWS_PROFILE": "dev"}},
		{name: "container credentials", set: map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/creds"}},
		{name: "web identity", set: map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": "/tmp/token", "AWS_ROLE_ARN": "arn:aws:iam::1:role/r"}},
		{name: "retry settings", set: map[string]string{"AWS_MAX_ATTEMPTS": "5"}},
		{name: "per-service endpoint", set: map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := lambdaEnv()
			for k, v := range tt.set {
				env[k] = v
			}
			for _, k := range tt.unset {
				delete(env, k)
			}
			var environ []string
			for k, v := range env {
				environ = append(environ, k+"="+v)
			}
			cfg, ok := fromEnvironment(func(k string) string { return env[k] }, environ)
			if ok != tt.fromEnv {
				t.Fatalf("built from the environment = %v, want %v", ok, tt.fromEnv)
			}
			if !ok {
				return
			}
			// LoadDefaultConfig on the same variables, and no files.
			for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"} {
				t.Setenv(k, env[k])
			}
			t.Setenv("AWS_CONFIG_FILE", "/nonexistent/config")
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
			want, err := config.LoadDefaultConfig(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Region != want.Region {
				t.Errorf("region = %q, LoadDefaultConfig's %q", cfg.Region, want.Region)
			}
			if got, w := aws.ToString(cfg.BaseEndpoint), aws.ToString(want.BaseEndpoint); got != w || got != tt.endpoint {
				t.Errorf("endpoint = %q, LoadDefaultConfig's %q, want %q", got, w, tt.endpoint)
			}
			gotCreds, err := cfg.Credentials.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			wantCreds, err := want.Credentials.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if gotCreds.AccessKeyID != wantCreds.AccessKeyID || gotCreds.SecretAccessKey != wantCreds.SecretAccessKey ||
				gotCreds.SessionToken != wantCreds.SessionToken || gotCreds.CanExpire != wantCreds.CanExpire {
				t.Errorf("credentials = %+v, LoadDefaultConfig's %+v", gotCreds, wantCreds)
			}
		})
	}
}

// TestConfigReachesAWS calls the emulator with clients of the
// configuration built from the environment.
func TestConfigReachesAWS(t *testing.T) {
	emu := awsemu.StartTest(t)
	env := lambdaEnv()
	env["AWS_REGION"], env["AWS_ENDPOINT_URL"] = awsemu.Region, emu.URL
	env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"] = "local", "local", ""
	cfg, ok := fromEnvironment(func(k string) string { return env[k] }, nil)
	if !ok {
		t.Fatal("not built from the environment")
	}
	ctx := context.Background()
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Errorf("DynamoDB ListTables: %v", err)
	}
	if _, err := sqs.NewFromConfig(cfg).ListQueues(ctx, &sqs.ListQueuesInput{}); err != nil {
		t.Errorf("SQS ListQueues: %v", err)
	}
}
