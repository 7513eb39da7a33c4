package lambdamain

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Config returns the function's AWS configuration. In Lambda the region
// and the execution role's credentials are environment variables, and
// config.LoadDefaultConfig would take exactly those (as static
// credentials, as here); building the configuration from them directly
// skips its files and resolution chains, about 3 ms of every cold start
// (make bench-cold). AWS_ENDPOINT_URL, when set (local runs), is the
// clients' endpoint, as LoadDefaultConfig makes it. When the environment
// holds anything else that would change LoadDefaultConfig's answer (a
// profile, config files, container or web identity credentials, a
// per-service endpoint, retry or endpoint settings), or lacks the region
// or the keys, Config is LoadDefaultConfig.
func Config(ctx context.Context, getenv func(string) string) (aws.Config, error) {
	if cfg, ok := fromEnvironment(getenv, os.Environ()); ok {
		return cfg, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	return cfg, nil
}

// elsewhere are the variables that make LoadDefaultConfig look beyond
// the region and the keys.
var elsewhere = []string{
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
	"AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_CA_BUNDLE", "AWS_DEFAULTS_MODE",
	"AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	"AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION",
	"AWS_ACCOUNT_ID", "AWS_ACCOUNT_ID_ENDPOINT_MODE", "AWS_SDK_UA_APP_ID",
	"AWS_EC2_METADATA_DISABLED", "AWS_S3_US_EAST_1_REGIONAL_ENDPOINT", "AWS_S3_DISABLE_MULTIREGION_ACCESS_POINTS",
}

// fromEnvironment builds the configuration from getenv alone, or reports
// that LoadDefaultConfig is needed; environ lists the variables set (for
// the per-service AWS_ENDPOINT_URL_<SERVICE>).
func fromEnvironment(getenv func(string) string, environ []string) (aws.Config, bool) {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	key, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if region == "" || key == "" || secret == "" {
		return aws.Config{}, false
	}
	for _, k := range elsewhere {
		if getenv(k) != "" {
			return aws.Config{}, false
		}
	}
	for _, kv := range environ {
		if strings.HasPrefix(kv, "AWS_ENDPOINT_URL_") {
			return aws.Config{}, false
		}
	}
	cfg := aws.Config{
		Region: region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(key, secret,
			getenv("AWS_SESSION_TOKEN"))),
	}
	if u := getenv("AWS_ENDPOINT_URL"); u != "" {
		cfg.BaseEndpoint = aws.String(u)
	}
	return cfg, true
}
