package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/jsonscan"
)

// decodeBatch reads the body of POST /v1/jobs/batch: its specs, at most maxBatch of them.
// The usual body takes the fast path (fastdecode.go); any other, and every bad one, is read
// element by element so that the error names the entry and its field ("jobs[3].kind").
func decodeBatch(body []byte, maxBatch int) ([]jobsched.JobSpec, error) {
	if specs, ok := fastBatch(body, maxBatch); ok {
		return specs, nil
	}
	var req BatchRequest
	if err := strictUnmarshal(body, &req); err != nil {
		return nil, batchBodyError(err)
	}
	if len(req.Jobs) > maxBatch {
		return nil, fmt.Errorf("%d jobs, over the batch limit of %d: %w", len(req.Jobs), maxBatch, jobsched.ErrTooLarge)
	}
	specs := make([]jobsched.JobSpec, len(req.Jobs))
	for i, raw := range req.Jobs {
		var err error
		if specs[i], err = decodeSpec(raw, fmt.Sprintf("jobs[%d].", i)); err != nil {
			return nil, err
		}
	}
	return specs, nil
}

// decodeSpec reads one job spec from a JSON object field by field, so that every error names
// its field (prefix is "" or "jobs[3]."), an unknown field included. The usual spec takes the
// fast path (fastdecode.go), which gives the same spec.
func decodeSpec(raw json.RawMessage, prefix string) (jobsched.JobSpec, error) {
	if spec, ok := fastSpec(raw); ok {
		return spec, nil
	}
	return decodeSpecFull(raw, prefix)
}

// decodeSpecFull is decodeSpec without the fast path.
func decodeSpecFull(raw json.RawMessage, prefix string) (jobsched.JobSpec, error) {
	var spec jobsched.JobSpec
	var fields map[string]json.RawMessage
	if err := strictUnmarshal(raw, &fields); err != nil || fields == nil {
		field := "body"
		if prefix != "" {
			field = prefix[:len(prefix)-1]
		}
		return spec, &jobsched.InvalidError{Field: field, Reason: "must be a JSON object"}
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the same error for the same body
	for _, k := range keys {
		v := fields[k]
		var err error
		switch k {
		case "kind":
			err = strictUnmarshal(v, &spec.Kind)
		case "category":
			err = strictUnmarshal(v, &spec.Category)
		case "args":
			spec.Args = append(json.RawMessage(nil), v...)
		case "delay":
			err = strictUnmarshal(v, &spec.Delay)
		case "run_at":
			var s string
			if err = strictUnmarshal(v, &s); err == nil {
				spec.RunAt, err = time.Parse(time.RFC3339Nano, s)
			}
		case "max_attempts":
			err = strictUnmarshal(v, &spec.MaxAttempts)
			if err == nil && spec.MaxAttempts < 1 {
				err = fmt.Errorf("must be at least 1, got %d", spec.MaxAttempts)
			}
		case "timeout":
			err = strictUnmarshal(v, &spec.Timeout)
		case "unique_key":
			err = strictUnmarshal(v, &spec.UniqueKey)
		case "concurrency_key":
			err = strictUnmarshal(v, &spec.ConcurrencyKey)
		case "fairness_key":
			err = strictUnmarshal(v, &spec.FairnessKey)
		case "depends_on":
			err = strictUnmarshal(v, &spec.DependsOn)
		case "on_parent_failure":
			err = strictUnmarshal(v, &spec.OnParentFailure)
		default:
			name := k
			if name == "" {
				name = `""` // still name it: an empty key is a field too
			}
			return spec, &jobsched.InvalidError{Field: prefix + name, Reason: "unknown field"}
		}
		if err != nil {
			return spec, &jobsched.InvalidError{Field: prefix + k, Reason: cleanJSONError(err)}
		}
	}
	return spec, nil
}

// strictUnmarshal decodes one JSON value into v; null is refused, as is trailing data.
func strictUnmarshal(raw []byte, v any) error {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return fmt.Errorf("must not be null")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the value")
	}
	return nil
}

// batchBodyError names what is wrong with a batch body that is not {"jobs":[...]} in the
// user's terms (never a Go type of ours).
func batchBodyError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		switch te.Field {
		case "":
			return &jobsched.InvalidError{Field: "body", Reason: fmt.Sprintf(`must be a JSON object {"jobs":[...]}, got a JSON %s`, te.Value)}
		case "jobs":
			return &jobsched.InvalidError{Field: "jobs", Reason: fmt.Sprintf("must be an array of job objects, got a JSON %s", te.Value)}
		}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if f, err := strconv.Unquote(name); err == nil {
			if f == "" {
				f = `""` // still name it: an empty key is a field too
			}
			return &jobsched.InvalidError{Field: f, Reason: `unknown field (the body is {"jobs":[...]})`}
		}
	}
	return &jobsched.InvalidError{Field: "body", Reason: cleanJSONError(err)}
}

// cleanJSONError words a decoding error for the caller: a type mismatch names the JSON type
// wanted ("want an integer, got a JSON string"), not the Go one.
func cleanJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("want %s, got a JSON %s", jsonscan.TypeName(te.Type), te.Value)
	}
	return err.Error()
}
