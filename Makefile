# wacloud build, test and local run targets.
#
# SAM's makefile builder (BuildMethod: makefile) calls build-<LogicalId> with
# ARTIFACTS_DIR set; run by hand, each target writes bin/<Name>/bootstrap.

GO       ?= go
GOFLAGS_LAMBDA := -tags lambda.norpc -trimpath -ldflags='-s -w'

# Logical id of each function in template.yaml -> its directory under functions/.
FUNCTIONS := WebhookFunction InboundFunction BridgeFunction SenderFunction MediaFunction StatusFunction ApiFunction TemplatesFunction CampaignFunction
dir_WebhookFunction := webhook
dir_InboundFunction := inbound
dir_BridgeFunction  := bridge
dir_SenderFunction  := sender
dir_MediaFunction   := media
dir_StatusFunction  := status
dir_ApiFunction     := api
dir_TemplatesFunction := templates
dir_CampaignFunction := campaign

.PHONY: test test-load test-aws local local-infra local-fn build lint load-webhook $(addprefix build-,$(FUNCTIONS))

## test: every test, as CI runs it, once on each AWS implementation: the
## embedded emulator (kumo) and moto_server (moto 5). Both runs always run;
## the target fails if either failed. TEST_AWS=kumo or TEST_AWS=moto runs one.
TEST_AWS ?= kumo moto
GOTEST_FLAGS ?= -count=1 -timeout 30m
test:
	@status=0; for impl in $(TEST_AWS); do \
		echo "== go test on AWS implementation: $$impl =="; \
		WACLOUD_TEST_AWS=$$impl $(GO) test $(GOTEST_FLAGS) ./... || status=1; \
		echo "== end of go test on AWS implementation: $$impl =="; \
	done; exit $$status

## test-load: make test on a machine kept busy on purpose, as CI's fresh
## machine is (load 9-12 seen there): BURNERS processes that only spin
## (default 3) and PARALLEL test packages at once (default 4). It finds
## tests that depend on timing; TEST_AWS=kumo or TEST_AWS=moto runs one
## implementation. Each test runs once: the embedded emulator's state is
## global to a test process and many tests name fixed ids, so -count above
## 1 fails by design in several packages.
BURNERS ?= 3
PARALLEL ?= 4
test-load:
	@pids=""; for i in $$(seq $(BURNERS)); do yes > /dev/null & pids="$$pids $$!"; done; \
	trap 'kill $$pids 2>/dev/null' EXIT INT TERM; \
	$(MAKE) --no-print-directory test TEST_AWS="$(TEST_AWS)" GOTEST_FLAGS="-count=1 -timeout 60m -p $(PARALLEL)"

## test-aws: the end-to-end suite against a stack deployed in a real AWS
## account: make test-aws STACK=wacloud-dev REGION=us-east-1 (see README).
test-aws:
	@if [ -z "$(STACK)" ] || [ -z "$(REGION)" ]; then echo "usage: make test-aws STACK=<stack name> REGION=<region>"; exit 2; fi
	WACLOUD_DEPLOYED_STACK="$(STACK)" AWS_REGION="$(REGION)" $(GO) test -count=1 -timeout 20m -v -run 'TestDeployed' ./local/deployed/

## local: the whole connector on this machine, in the foreground (Ctrl-C stops it).
## AWS_ENDPOINT=URL runs it against an AWS implementation you run instead
## of the embedded one (moto_server, LocalStack); AWS_BACKEND=moto embeds moto.
local:
	$(GO) run ./local/cmd/wacloud-local $(if $(AWS_ENDPOINT),-aws-endpoint $(AWS_ENDPOINT)) $(if $(AWS_BACKEND),-aws-backend $(AWS_BACKEND)) $(ARGS)

## local-infra: the connector without its queue-driven functions (AWS emulator, API front,
## Graph simulator, core sink), writing STATE (/tmp/wacloud-local.json) for local-fn.
STATE ?= /tmp/wacloud-local.json
local-infra:
	$(GO) run ./local/cmd/wacloud-local -poll none -state $(STATE) $(if $(AWS_ENDPOINT),-aws-endpoint $(AWS_ENDPOINT)) $(if $(AWS_BACKEND),-aws-backend $(AWS_BACKEND)) $(ARGS)

## local-fn: one queue-driven function in its own killable process, against local-infra:
##   make local-fn FN=sender [WACLOUD_CRASH_AT=sender.after_request:3]
local-fn:
	@if [ -z "$(FN)" ]; then echo "usage: make local-fn FN=<sender|bridge|inbound|status|media>"; exit 2; fi
	$(GO) run ./local/cmd/wacloud-local -only $(FN) -state $(STATE) $(ARGS)

## build: every function, for Lambda (linux/arm64), into bin/<Name>/bootstrap.
build: $(addprefix build-,$(FUNCTIONS))

# One explicit target per function so that SAM finds build-<LogicalId>.
build-WebhookFunction build-InboundFunction build-BridgeFunction build-SenderFunction build-MediaFunction build-StatusFunction build-ApiFunction build-TemplatesFunction build-CampaignFunction:
	$(eval NAME := $(patsubst build-%,%,$@))
	$(eval OUT := $(if $(ARTIFACTS_DIR),$(ARTIFACTS_DIR),bin/$(NAME)))
	mkdir -p "$(OUT)"
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(GOFLAGS_LAMBDA) -o "$(OUT)/bootstrap" ./functions/$(dir_$(NAME))

## lint: gofmt, go vet, and cfn-lint on the template when installed.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@if command -v cfn-lint >/dev/null 2>&1; then cfn-lint template.yaml && echo "cfn-lint: template.yaml ok"; else echo "cfn-lint not installed; template not linted"; fi

## load-webhook: webhook handler latency and end-to-end events/s through the local connector.
load-webhook:
	$(GO) run ./local/bench/webhook

# ---------------------------------------------------------------------------
# Targets owned by other areas (add below): bench-sender, bench-media, invoke.
# ---------------------------------------------------------------------------

.PHONY: bench-media
## bench-media: stream 1, 16 and 100 MB media through the media function into the embedded S3 (peak RSS, MB/s, sha256).
bench-media:
	$(GO) run ./local/bench/media

.PHONY: invoke
## invoke: run a function's real bootstrap under the Lambda Runtime Interface Emulator against local AWS, print its response:
##   make invoke FN=webhook EVENT=events/webhook/post_text.json [AWS=auto|embedded|local]
invoke:
	@if [ -z "$(FN)" ] || [ -z "$(EVENT)" ]; then echo "usage: make invoke FN=<webhook|inbound|bridge|sender|media|status|api> EVENT=events/<dir>/<file>.json"; exit 2; fi
	$(GO) run ./local/invoke -fn "$(FN)" -event "$(EVENT)" -aws "$(or $(AWS),auto)"

.PHONY: bench-sender
## bench-sender: N sender instances pace M jobs from one number through the Graph simulator (LIMIT=80, WORKERS=8, JOBS=LIMIT*45 up to 15000), pushing their results to a core answering in CORE_LATENCY_MS (0); prints the achieved rate / LIMIT last.
bench-sender:
	$(GO) run ./local/bench/sender -limit $(or $(LIMIT),80) -workers $(or $(WORKERS),8) $(if $(JOBS),-jobs $(JOBS)) $(if $(CORE_LATENCY_MS),-core-latency $(CORE_LATENCY_MS)ms)

.PHONY: bench-bridge
## bench-bridge: the bridge as make local runs it (template's MaximumConcurrency, batch 10) drains EVENTS=20000 core events of many contacts into a core sink answering in LATENCY=100 ms; prints events/s, lost, duplicates and order violations last (ORDER=contacts: a contact's events queued together; CONCURRENCY=N instances).
bench-bridge:
	$(GO) run ./local/bench/bridge -events $(or $(EVENTS),20000) -latency-ms $(or $(LATENCY),100) -order $(or $(ORDER),rounds) $(if $(CONCURRENCY),-concurrency $(CONCURRENCY))

.PHONY: api-docs check-api-docs
## api-docs: re-vendor Redoc's standalone bundle (the renderer of GET /docs)
## from the npm registry into local/apidocs/assets/, at the pinned version,
## checking the tarball against the pinned sha512. Needs npm; the result is
## committed, so make local, make test and CI need neither npm nor network.
## To upgrade: set REDOC_VERSION and REDOC_INTEGRITY (npm view redoc@X dist.integrity).
REDOC_VERSION   ?= 2.5.4
REDOC_INTEGRITY ?= sha512-M6jWhG1qoBnH6TFmzJnstyCZ87HmOY/UzDm78mHiYihEdlV/YcS9ogOo1NlElnJMeLsyxHFe2yFc4sNjHTrABQ==
api-docs:
	REDOC_VERSION=$(REDOC_VERSION) REDOC_INTEGRITY=$(REDOC_INTEGRITY) sh local/apidocs/vendor.sh

## check-api-docs: open GET /docs in headless Chromium and fail unless the
## rendered page shows every operation of api/openapi.yaml. Serves the page
## itself; API_URL=http://127.0.0.1:3000 checks a running make local instead.
## SCREENSHOT=file.png also saves a picture of the page. Needs chromium
## (apt-get install chromium); CHROMIUM=path picks another binary.
CHROMIUM ?= $(shell command -v chromium || command -v chromium-browser || command -v google-chrome)
check-api-docs:
	@if [ -z "$(CHROMIUM)" ]; then echo "check-api-docs needs chromium (apt-get install chromium) or CHROMIUM=path"; exit 2; fi
	WACLOUD_CHROMIUM="$(CHROMIUM)" WACLOUD_DOCS_URL="$(API_URL)" WACLOUD_DOCS_SCREENSHOT="$(SCREENSHOT)" $(GO) test -count=1 -v -run 'TestDocsPageRendersInChromium' ./local/connector/

.PHONY: bench-routes
## bench-routes: IDS (100000) random /webhook/{tenant_id} requests with bad signatures against one webhook instance on the embedded emulator; prints the AWS calls by operation and the heap growth, last: routes=… aws_calls=… getitem=… calls_per_1000_routes=… heap_growth_mb=… elapsed_s=… known_ok=…/… (ARGS=-no-budget: the bounded cache alone).
bench-routes:
	$(GO) run ./local/bench/routes -ids $(or $(IDS),100000) $(ARGS)

.PHONY: bench-cold
## bench-cold: cold starts under the Lambda Runtime Interface Emulator (installed with go install if missing): each function's bootstrap built as make build builds it but for linux/amd64, plus a plain and an SDK-only hello world (LoadDefaultConfig + four clients), N (5) rounds, each cold start in a process of its own with a fresh local AWS, Graph simulator and core sink and a real sample event of events/; prints medians (first response, init, first event, requests, the endpoints' time and the function's own time) and last the ratios of each function's median first response to the SDK hello world's, in this form (ARGS=-breakdown: package inits and each request; ARGS="-latency 10ms": every request to AWS, Graph and the core answered that much later; see docs/operations.md "Cold starts"):
##   webhook=1.05 inbound=1.10 bridge=1.02 sender=1.20 media=1.08 status=1.07 api=1.12 templates=1.15
bench-cold:
	$(GO) run ./local/bench/cold -n $(or $(N),5) $(ARGS)

.PHONY: bench-calls
## bench-calls: AWS requests per message, counted at the AWS endpoint by service and operation (event-source polling included): inbound texts, then outbound text jobs with their 3 statuses, then the same as a campaign's jobs, at RATE/s (25) for DURATION (20s) each, with the DynamoDB partition keys that take the most capacity units per message; prints inbound_calls_per_msg and outbound_calls_per_job last. STATUS_DELAY=500ms spaces a message's status webhooks (default: all at once).
bench-calls:
	$(GO) run ./local/bench/calls -rate $(or $(RATE),25) -duration $(or $(DURATION),20s) $(if $(AWS),-aws $(AWS)) $(if $(STATUS_DELAY),-status-delay $(STATUS_DELAY))

.PHONY: bench-statuses
## bench-statuses: the status function against a core answering in LATENCY_MS (100) ms: MESSAGES (5000) recorded messages' sent, delivered and read statuses queued as the webhook stores them (ORDER=together: each message's three side by side), the function at the template's concurrency; prints, last: core_latency_ms=… messages=… events=… events_per_s=… lost=… repeats=… order_violations=….
bench-statuses:
	$(GO) run ./local/bench/statuses $(if $(MESSAGES),-messages $(MESSAGES)) $(if $(LATENCY_MS),-latency-ms $(LATENCY_MS)) $(if $(ORDER),-order $(ORDER))

.PHONY: bench-fairness
## bench-fairness: tenant A's backlog (BACKLOG=20000 bulk jobs, LIMIT=80/s) on its number while tenant B sends a probe every 2 s on its own (PROBES=20); prints probe wait p50/p99 and A's rate / LIMIT last. QUICK=1: 3000 jobs, 10 probes.
bench-fairness:
	$(GO) run ./local/bench/fairness -limit $(or $(LIMIT),80) $(if $(BACKLOG),-backlog $(BACKLOG)) $(if $(PROBES),-probes $(PROBES)) $(if $(WORKERS),-workers $(WORKERS)) $(if $(QUICK),-quick)

.PHONY: bench-campaign
## bench-campaign: a campaign of ROWS (50000) rows at LIMIT (1000) msg/s, tier unlimited, through make local's pieces with the runner in processes of its own, stopped once half way and resumed, while another tenant sends a probe every 2 s; prints, last: rows=… accepted=… duplicates=… ratio=… runner_peak_rss_mb=… probe_wait_p99_s=…. TIER=2000 (ROWS 5000): the messaging-limit walk, printing the recipients sent before waiting_for_capacity. ARGS=-kill: kill the runner's process outright at the stop (taken over once its lease ends).
bench-campaign:
	$(GO) run ./local/bench/campaign $(if $(ROWS),-rows $(ROWS)) $(if $(LIMIT),-limit $(LIMIT)) $(if $(TIER),-tier $(TIER)) $(if $(POLLERS),-pollers $(POLLERS)) $(ARGS)
