package awsemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
)

// ddbStrict refuses, with the ValidationException DynamoDB answers, the
// requests DynamoDB refuses and kumo (v0.33) carries out:
//
//   - an expression naming a reserved word as an attribute without a
//     #placeholder (the sender once wrote "state" in an expression: every
//     test passed on kumo, and no job could be sent on AWS);
//   - a #name or :value placeholder an expression uses but the request does
//     not define, or one the request defines but no expression uses (a
//     transaction item counts as one request);
//   - an empty ExpressionAttributeNames or ExpressionAttributeValues;
//   - a TransactWriteItems or TransactGetItems of more than 100 items, or a
//     TransactWriteItems with two operations on one item.
//
// It also completes the failures kumo reports with less than DynamoDB
// (see completeFailure). Every other request, and every request it does
// not understand, goes to kumo untouched.
type ddbStrict struct {
	next http.Handler
}

const ddbTargetPrefix = "DynamoDB_20120810."

// maxTransactItems is DynamoDB's limit on the items of one transaction.
const maxTransactItems = 100

func strictDynamoDB(next http.Handler) http.Handler {
	return &ddbStrict{next: next}
}

func (s *ddbStrict) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	action, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), ddbTargetPrefix)
	if !ok {
		s.next.ServeHTTP(w, r)
		return
	}
	switch action {
	case "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
		"TransactWriteItems", "TransactGetItems", "BatchGetItem":
	default:
		s.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read request", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if msg := s.check(r, action, body); msg != "" {
		writeValidationException(w, msg)
		return
	}
	switch action {
	case "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems":
	default:
		s.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	s.next.ServeHTTP(rec, r)
	out := rec.Body.Bytes()
	if rec.Code == http.StatusBadRequest {
		out = s.completeFailure(r, action, body, out)
	}
	for k, vs := range rec.Header() {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(rec.Code)
	_, _ = w.Write(out)
}

// completeFailure gives a failed write the details DynamoDB gives and kumo
// leaves out: each cancellation reason's code ("None" for the items that
// did not fail) and message, the codes in the exception's message, and,
// where the request asked for them with ReturnValuesOnConditionCheckFailure
// ALL_OLD, the item a condition failed on. kumo does not return that item,
// so it is read after the failure: a write in between would show.
func (s *ddbStrict) completeFailure(r *http.Request, action string, req, resp []byte) []byte {
	var out map[string]json.RawMessage
	if json.Unmarshal(resp, &out) != nil {
		return resp
	}
	var typ string
	_ = json.Unmarshal(out["__type"], &typ)
	switch {
	case action == "TransactWriteItems" && strings.HasSuffix(typ, "TransactionCanceledException"):
		var in struct {
			TransactItems []map[string]exprRequest
		}
		var reasons []map[string]json.RawMessage
		if json.Unmarshal(req, &in) != nil || json.Unmarshal(out["CancellationReasons"], &reasons) != nil || len(reasons) != len(in.TransactItems) {
			return resp
		}
		codes := make([]string, len(reasons))
		for i, reason := range reasons {
			var code string
			_ = json.Unmarshal(reason["Code"], &code)
			if code == "" {
				code = "None"
			}
			codes[i] = code
			reason["Code"], _ = json.Marshal(code)
			if code != "ConditionalCheckFailed" {
				continue
			}
			if _, ok := reason["Message"]; !ok {
				reason["Message"], _ = json.Marshal("The conditional request failed")
			}
			for kind, op := range in.TransactItems[i] {
				if item := s.oldItem(r, kind, op); item != nil {
					reason["Item"] = item
				}
			}
		}
		out["CancellationReasons"], _ = json.Marshal(reasons)
		out["message"], _ = json.Marshal("Transaction cancelled, please refer cancellation reasons for specific reasons [" + strings.Join(codes, ", ") + "]")
	case strings.HasSuffix(typ, "ConditionalCheckFailedException"):
		var in exprRequest
		if json.Unmarshal(req, &in) != nil {
			return resp
		}
		kind := map[string]string{"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}[action]
		item := s.oldItem(r, kind, in)
		if item == nil {
			return resp
		}
		out["Item"] = item
	default:
		return resp
	}
	b, err := json.Marshal(out)
	if err != nil {
		return resp
	}
	return b
}

// oldItem reads the item op names when op asked for it on a failed
// condition; nil otherwise, or when the item is gone.
func (s *ddbStrict) oldItem(r *http.Request, kind string, op exprRequest) json.RawMessage {
	if op.ReturnValuesOnConditionCheckFailure != "ALL_OLD" {
		return nil
	}
	key := op.Key
	if kind == "Put" {
		names := s.keyNames(r, op.TableName)
		if names == nil {
			return nil
		}
		key = map[string]json.RawMessage{}
		for _, n := range names {
			key[n] = op.Item[n]
		}
	}
	var out struct{ Item json.RawMessage }
	if s.call(r, "GetItem", map[string]any{"TableName": op.TableName, "Key": key, "ConsistentRead": true}, &out) != nil || len(out.Item) == 0 {
		return nil
	}
	return out.Item
}

// call sends one DynamoDB request of the front's own to kumo, with r's
// headers, and decodes the answer into out.
func (s *ddbStrict) call(r *http.Request, action string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req := r.Clone(r.Context())
	req.Header.Set("X-Amz-Target", ddbTargetPrefix+action)
	req.Header.Del("Content-Length")
	req.ContentLength = int64(len(body))
	req.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	s.next.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", action, rec.Code)
	}
	return json.Unmarshal(rec.Body.Bytes(), out)
}

// writeValidationException answers as DynamoDB does when it refuses a
// request before reading any table.
func writeValidationException(w http.ResponseWriter, msg string) {
	b, _ := json.Marshal(map[string]string{
		"__type":  "com.amazonaws.dynamodb.v20120810#ValidationException",
		"message": msg,
	})
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(b)
}

// exprRequest holds the expression fields of a request, of a transaction
// item or of a BatchGetItem table: whichever the operation has.
type exprRequest struct {
	TableName                 string
	Key                       map[string]json.RawMessage
	Item                      map[string]json.RawMessage
	KeyConditionExpression    *string
	UpdateExpression          *string
	ConditionExpression       *string
	FilterExpression          *string
	ProjectionExpression      *string
	ExpressionAttributeNames  map[string]string
	ExpressionAttributeValues map[string]json.RawMessage

	ReturnValuesOnConditionCheckFailure string
}

// check returns the message DynamoDB refuses body with, or "".
func (s *ddbStrict) check(r *http.Request, action string, body []byte) string {
	switch action {
	case "TransactWriteItems":
		var in struct {
			TransactItems []map[string]exprRequest
		}
		if json.Unmarshal(body, &in) != nil {
			return ""
		}
		if msg := transactLimit(in.TransactItems, "TransactWriteItem"); msg != "" {
			return msg
		}
		for _, item := range in.TransactItems {
			for _, op := range item {
				if msg := op.check(); msg != "" {
					return msg
				}
			}
		}
		return s.sameItemTwice(r, in.TransactItems)
	case "TransactGetItems":
		var in struct {
			TransactItems []map[string]exprRequest
		}
		if json.Unmarshal(body, &in) != nil {
			return ""
		}
		if msg := transactLimit(in.TransactItems, "TransactGetItem"); msg != "" {
			return msg
		}
		for _, item := range in.TransactItems {
			for _, op := range item {
				if msg := op.check(); msg != "" {
					return msg
				}
			}
		}
	case "BatchGetItem":
		var in struct {
			RequestItems map[string]exprRequest
		}
		if json.Unmarshal(body, &in) != nil {
			return ""
		}
		tables := make([]string, 0, len(in.RequestItems))
		for t := range in.RequestItems {
			tables = append(tables, t)
		}
		sort.Strings(tables)
		for _, t := range tables {
			if msg := in.RequestItems[t].check(); msg != "" {
				return msg
			}
		}
	default:
		var in exprRequest
		if json.Unmarshal(body, &in) != nil {
			return ""
		}
		return in.check()
	}
	return ""
}

// transactLimit refuses a transaction of more than 100 items with
// DynamoDB's message, which lists the items as Java objects.
func transactLimit(items []map[string]exprRequest, class string) string {
	if len(items) <= maxTransactItems {
		return ""
	}
	refs := make([]string, len(items))
	for i := range items {
		refs[i] = fmt.Sprintf("com.amazonaws.dynamodb.v20120810.%s@%x", class, 0x10000001+i)
	}
	return "1 validation error detected: Value '[" + strings.Join(refs, ", ") +
		"]' at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to " +
		strconv.Itoa(maxTransactItems)
}

// sameItemTwice refuses a transaction that names one item twice. A Put
// names its item by the key attributes of its Item, which the table's key
// schema tells; a table kumo cannot describe is left to kumo.
func (s *ddbStrict) sameItemTwice(r *http.Request, items []map[string]exprRequest) string {
	if len(items) < 2 {
		return ""
	}
	schemas := map[string][]string{}
	seen := map[string]bool{}
	for _, item := range items {
		for kind, op := range item {
			key := op.Key
			if kind == "Put" {
				names, ok := schemas[op.TableName]
				if !ok {
					names = s.keyNames(r, op.TableName)
					schemas[op.TableName] = names
				}
				if names == nil {
					continue
				}
				key = map[string]json.RawMessage{}
				for _, n := range names {
					key[n] = op.Item[n]
				}
			}
			k, err := json.Marshal(key) // map keys sorted: one text per key
			if err != nil {
				continue
			}
			id := op.TableName + "\x00" + string(k)
			if seen[id] {
				return "Transaction request cannot include multiple operations on one item"
			}
			seen[id] = true
		}
	}
	return ""
}

// keyNames asks kumo for the key attributes of table; nil when it cannot
// tell.
func (s *ddbStrict) keyNames(r *http.Request, table string) []string {
	var out struct {
		Table struct {
			KeySchema []struct{ AttributeName string }
		}
	}
	if s.call(r, "DescribeTable", map[string]string{"TableName": table}, &out) != nil || len(out.Table.KeySchema) == 0 {
		return nil
	}
	names := make([]string, 0, len(out.Table.KeySchema))
	for _, k := range out.Table.KeySchema {
		names = append(names, k.AttributeName)
	}
	return names
}

// check validates the expressions of one request (or transaction item)
// against its placeholder maps, in the order DynamoDB reports problems:
// each expression on its own, then the placeholders no expression used.
func (q exprRequest) check() string {
	if q.ExpressionAttributeNames != nil && len(q.ExpressionAttributeNames) == 0 {
		return "ExpressionAttributeNames must not be empty"
	}
	if q.ExpressionAttributeValues != nil && len(q.ExpressionAttributeValues) == 0 {
		return "ExpressionAttributeValues must not be empty"
	}
	exprs := []struct {
		kind exprKind
		text *string
	}{
		{updateExpr, q.UpdateExpression},
		{conditionExpr, q.ConditionExpression},
		{keyConditionExpr, q.KeyConditionExpression},
		{filterExpr, q.FilterExpression},
		{projectionExpr, q.ProjectionExpression},
	}
	usedNames, usedValues := map[string]bool{}, map[string]bool{}
	hasExpr := false
	for _, e := range exprs {
		if e.text == nil {
			continue
		}
		hasExpr = true
		if msg := e.kind.check(*e.text, q.ExpressionAttributeNames, q.ExpressionAttributeValues, usedNames, usedValues); msg != "" {
			return msg
		}
	}
	if !hasExpr && len(q.ExpressionAttributeNames) > 0 {
		return "ExpressionAttributeNames can only be specified when using expressions"
	}
	if msg := unused("Names", keysOf(q.ExpressionAttributeNames), usedNames); msg != "" {
		return msg
	}
	return unused("Values", keysOf(q.ExpressionAttributeValues), usedValues)
}

func keysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func unused(kind string, defined []string, used map[string]bool) string {
	var left []string
	for _, k := range defined {
		if !used[k] {
			left = append(left, k)
		}
	}
	if len(left) == 0 {
		return ""
	}
	return "Value provided in ExpressionAttribute" + kind + " unused in expressions: keys: {" + strings.Join(left, ", ") + "}"
}

// exprKind is the parameter an expression came in, as DynamoDB names it in
// its messages.
type exprKind string

const (
	updateExpr       exprKind = "UpdateExpression"
	conditionExpr    exprKind = "ConditionExpression"
	keyConditionExpr exprKind = "KeyConditionExpression"
	filterExpr       exprKind = "FilterExpression"
	projectionExpr   exprKind = "ProjectionExpression"
)

// check scans one expression: every bare attribute name in it must not be
// a reserved word, and every placeholder must be defined. It records the
// placeholders used. It does not check the grammar: DynamoDB's syntax
// errors are left to the emulator behind.
func (k exprKind) check(expr string, names map[string]string, values map[string]json.RawMessage, usedNames, usedValues map[string]bool) string {
	toks := tokenize(expr)
	for i, t := range toks {
		switch t.kind {
		case tokNamePlaceholder:
			if _, ok := names[t.text]; !ok {
				return fmt.Sprintf("Invalid %s: An expression attribute name used in the document path is not defined; attribute name: %s", k, t.text)
			}
			usedNames[t.text] = true
		case tokValuePlaceholder:
			if _, ok := values[t.text]; !ok {
				return fmt.Sprintf("Invalid %s: An expression attribute value used in expression is not defined; attribute value: %s", k, t.text)
			}
			usedValues[t.text] = true
		case tokWord:
			if i+1 < len(toks) && toks[i+1].text == "(" {
				continue // a function: attribute_exists, size, if_not_exists…
			}
			if k.keyword(toks, i) {
				continue
			}
			if reservedWords[strings.ToUpper(t.text)] {
				return fmt.Sprintf("Invalid %s: Attribute name is a reserved keyword; reserved keyword: %s", k, t.text)
			}
		}
	}
	return ""
}

// keyword tells whether the word at toks[i] is a keyword of the
// expression's grammar rather than an attribute name.
func (k exprKind) keyword(toks []token, i int) bool {
	w := strings.ToUpper(toks[i].text)
	switch k {
	case updateExpr:
		switch w {
		case "SET", "REMOVE", "ADD", "DELETE":
			// A clause starts the expression or follows a complete
			// action; after "=", ",", "(", an operator or another
			// clause word the same word is an attribute name.
			if i == 0 {
				return true
			}
			prev := toks[i-1]
			switch prev.kind {
			case tokNamePlaceholder, tokValuePlaceholder, tokNumber:
				return true
			case tokWord:
				return !k.keyword(toks, i-1)
			}
			return prev.text == ")" || prev.text == "]"
		}
	case conditionExpr, keyConditionExpr, filterExpr:
		switch w {
		case "AND", "OR", "NOT", "BETWEEN", "IN":
			return true
		}
	}
	return false
}

type tokKind int

const (
	tokWord tokKind = iota
	tokNamePlaceholder
	tokValuePlaceholder
	tokNumber
	tokPunct
)

type token struct {
	kind tokKind
	text string
}

func isNameChar(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// tokenize splits an expression into words, placeholders, numbers (list
// indexes) and single punctuation characters.
func tokenize(expr string) []token {
	var toks []token
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case (c == '#' || c == ':') && i+1 < len(expr) && isNameChar(expr[i+1]):
			j := i + 1
			for j < len(expr) && isNameChar(expr[j]) {
				j++
			}
			kind := tokNamePlaceholder
			if c == ':' {
				kind = tokValuePlaceholder
			}
			toks = append(toks, token{kind, expr[i:j]})
			i = j
		case isNameChar(c):
			j := i
			digits := true
			for j < len(expr) && isNameChar(expr[j]) {
				digits = digits && expr[j] >= '0' && expr[j] <= '9'
				j++
			}
			kind := tokWord
			if digits {
				kind = tokNumber
			}
			toks = append(toks, token{kind, expr[i:j]})
			i = j
		default:
			toks = append(toks, token{tokPunct, expr[i : i+1]})
			i++
		}
	}
	return toks
}

// reservedWords is DynamoDB's list of reserved words ("Reserved words in
// DynamoDB", Amazon DynamoDB Developer Guide), compared case-insensitively.
var reservedWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(reservedWordList) {
		m[w] = true
	}
	return m
}()

const reservedWordList = `
ABORT ABSOLUTE ACTION ADD AFTER AGENT AGGREGATE ALL ALLOCATE ALTER ANALYZE
AND ANY ARCHIVE ARE ARRAY AS ASC ASCII ASENSITIVE ASSERTION ASYMMETRIC AT
ATOMIC ATTACH ATTRIBUTE AUTH AUTHORIZATION AUTHORIZE AUTO AVG BACK BACKUP
BASE BATCH BEFORE BEGIN BETWEEN BIGINT BINARY BIT BLOB BLOCK BOOLEAN BOTH
BREADTH BUCKET BULK BY BYTE CALL CALLED CALLING CAPACITY CASCADE CASCADED
CASE CAST CATALOG CHAR CHARACTER CHECK CLASS CLOB CLOSE CLUSTER CLUSTERED
CLUSTERING CLUSTERS COALESCE COLLATE COLLATION COLLECTION COLUMN COLUMNS
COMBINE COMMENT COMMIT COMPACT COMPILE COMPRESS CONDITION CONFLICT CONNECT
CONNECTION CONSISTENCY CONSISTENT CONSTRAINT CONSTRAINTS CONSTRUCTOR
CONSUMED CONTINUE CONVERT COPY CORRESPONDING COUNT COUNTER CREATE CROSS
CUBE CURRENT CURSOR CYCLE DATA DATABASE DATE DATETIME DAY DEALLOCATE DEC
DECIMAL DECLARE DEFAULT DEFERRABLE DEFERRED DEFINE DEFINED DEFINITION
DELETE DELIMITED DEPTH DEREF DESC DESCRIBE DESCRIPTOR DETACH DETERMINISTIC
DIAGNOSTICS DIRECTORIES DISABLE DISCONNECT DISTINCT DISTRIBUTE DO DOMAIN
DOUBLE DROP DUMP DURATION DYNAMIC EACH ELEMENT ELSE ELSEIF EMPTY ENABLE END
EQUAL EQUALS ERROR ESCAPE ESCAPED EVAL EVALUATE EXCEEDED EXCEPT EXCEPTION
EXCEPTIONS EXCLUSIVE EXEC EXECUTE EXISTS EXIT EXPLAIN EXPLODE EXPORT
EXPRESSION EXTENDED EXTERNAL EXTRACT FAIL FALSE FAMILY FETCH FIELDS FILE
FILTER FILTERING FINAL FINISH FIRST FIXED FLATTERN FLOAT FOR FORCE FOREIGN
FORMAT FORWARD FOUND FREE FROM FULL FUNCTION FUNCTIONS GENERAL GENERATE GET
GLOB GLOBAL GO GOTO GRANT GREATER GROUP GROUPING HANDLER HASH HAVE HAVING
HEAP HIDDEN HOLD HOUR IDENTIFIED IDENTITY IF IGNORE IMMEDIATE IMPORT IN
INCLUDING INCLUSIVE INCREMENT INCREMENTAL INDEX INDEXED INDEXES INDICATOR
INFINITE INITIALLY INLINE INNER INNTER INOUT INPUT INSENSITIVE INSERT
INSTEAD INT INTEGER INTERSECT INTERVAL INTO INVALIDATE IS ISOLATION ITEM
ITEMS ITERATE JOIN KEY KEYS LAG LANGUAGE LARGE LAST LATERAL LEAD LEADING
LEAVE LEFT LENGTH LESS LEVEL LIKE LIMIT LIMITED LINES LIST LOAD LOCAL
LOCALTIME LOCALTIMESTAMP LOCATION LOCATOR LOCK LOCKS LOG LOGED LONG LOOP
LOWER MAP MATCH MATERIALIZED MAX MAXLEN MEMBER MERGE METHOD METRICS MIN
MINUS MINUTE MISSING MOD MODE MODIFIES MODIFY MODULE MONTH MULTI MULTISET
NAME NAMES NATIONAL NATURAL NCHAR NCLOB NEW NEXT NO NONE NOT NULL NULLIF
NUMBER NUMERIC OBJECT OF OFFLINE OFFSET OLD ON ONLINE ONLY OPAQUE OPEN
OPERATOR OPTION OR ORDER ORDINALITY OTHER OTHERS OUT OUTER OUTPUT OVER
OVERLAPS OVERRIDE OWNER PAD PARALLEL PARAMETER PARAMETERS PARTIAL PARTITION
PARTITIONED PARTITIONS PATH PERCENT PERCENTILE PERMISSION PERMISSIONS PIPE
PIPELINED PLAN POOL POSITION PRECISION PREPARE PRESERVE PRIMARY PRIOR
PRIVATE PRIVILEGES PROCEDURE PROCESSED PROJECT PROJECTION PROPERTY
PROVISIONING PUBLIC PUT QUERY QUIT QUORUM RAISE RANDOM RANGE RANK RAW READ
READS REAL REBUILD RECORD RECURSIVE REDUCE REF REFERENCE REFERENCES
REFERENCING REGEXP REGION REINDEX RELATIVE RELEASE REMAINDER RENAME REPEAT
REPLACE REQUEST RESET RESIGNAL RESOURCE RESPONSE RESTORE RESTRICT RESULT
RETURN RETURNING RETURNS REVERSE REVOKE RIGHT ROLE ROLES ROLLBACK ROLLUP
ROUTINE ROW ROWS RULE RULES SAMPLE SATISFIES SAVE SAVEPOINT SCAN SCHEMA
SCOPE SCROLL SEARCH SECOND SECTION SEGMENT SEGMENTS SELECT SELF SEMI
SENSITIVE SEPARATE SEQUENCE SERIALIZABLE SESSION SET SETS SHARD SHARE
SHARED SHORT SHOW SIGNAL SIMILAR SIZE SKEWED SMALLINT SNAPSHOT SOME SOURCE
SPACE SPACES SPARSE SPECIFIC SPECIFICTYPE SPLIT SQL SQLCODE SQLERROR
SQLEXCEPTION SQLSTATE SQLWARNING START STATE STATIC STATUS STORAGE STORE
STORED STREAM STRING STRUCT STYLE SUB SUBMULTISET SUBPARTITION SUBSTRING
SUBTYPE SUM SUPER SYMMETRIC SYNONYM SYSTEM TABLE TABLESAMPLE TEMP TEMPORARY
TERMINATED TEXT THAN THEN THROUGHPUT TIME TIMESTAMP TIMEZONE TINYINT TO
TOKEN TOTAL TOUCH TRAILING TRANSACTION TRANSFORM TRANSLATE TRANSLATION
TREAT TRIGGER TRIM TRUE TRUNCATE TTL TUPLE TYPE UNDER UNDO UNION UNIQUE
UNIT UNKNOWN UNLOGGED UNNEST UNPROCESSED UNSIGNED UNTIL UPDATE UPPER URL
USAGE USE USER USERS USING UUID VACUUM VALUE VALUED VALUES VARCHAR VARIABLE
VARIANCE VARINT VARYING VIEW VIEWS VIRTUAL VOID WAIT WHEN WHENEVER WHERE
WHILE WINDOW WITH WITHIN WITHOUT WORK WRAPPED WRITE YEAR ZONE`
