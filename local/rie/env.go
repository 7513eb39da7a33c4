package rie

import (
	"fmt"
	"strconv"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/stack"
)

// FunctionEnv is the environment Lambda gives function id of st (its
// template variables, the Lambda variables, static local credentials),
// with its AWS clients pointed at awsURL.
func FunctionEnv(tmpl *stack.Template, st *stack.Stack, id, awsURL string) (map[string]string, error) {
	f, ok := st.Functions[id]
	if !ok {
		return nil, fmt.Errorf("%s is not in template.yaml", id)
	}
	env := map[string]string{
		"AWS_ENDPOINT_URL":   awsURL,
		"AWS_REGION":         awsemu.Region,
		"AWS_DEFAULT_REGION": awsemu.Region,
		"AWS_ACCESS_KEY_ID":  "local", "AWS_SECRET_ACCESS_KEY": "local",
		"S3_USE_PATH_STYLE":           "true",
		"AWS_LAMBDA_FUNCTION_NAME":    id,
		"AWS_LAMBDA_FUNCTION_TIMEOUT": strconv.Itoa(f.Timeout),
		"AWS_LAMBDA_LOG_FORMAT":       "JSON",
		"AWS_LAMBDA_LOG_LEVEL":        "INFO",
	}
	if ms, ok := tmpl.Resources[id].Properties["MemorySize"]; ok {
		env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = fmt.Sprint(ms)
	}
	for k, v := range f.Env {
		env[k] = v
	}
	return env, nil
}
