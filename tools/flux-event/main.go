// Test tool: strictly decodes the agent's Flux event payloads into Flux's own Event type
// (github.com/fluxcd/pkg/apis/event/v1beta1), so the tests prove notification-controller can read
// them. Reads one JSON document per line on stdin; for each prints one line of JSON with what a
// notification-controller sees (kind, severity, reason, the revision after its metadata clean-up,
// and whether git providers take it as a commit status), or exits 1 naming the first problem.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	eventv1 "github.com/fluxcd/pkg/apis/event/v1beta1"
)

type seen struct {
	Kind         string `json:"kind"`
	Severity     string `json:"severity"`
	Reason       string `json:"reason"`
	Revision     string `json:"revision"`
	CommitStatus bool   `json:"commitStatus"`
}

func check(line []byte) (*seen, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var e eventv1.Event
	if err := dec.Decode(&e); err != nil {
		return nil, err
	}
	// The fields the type marks +required, and its enum and length limits.
	switch {
	case e.InvolvedObject.Kind == "" || e.InvolvedObject.Name == "" || e.InvolvedObject.Namespace == "" || e.InvolvedObject.APIVersion == "":
		return nil, fmt.Errorf("involvedObject needs apiVersion, kind, name and namespace: %+v", e.InvolvedObject)
	case e.Severity != eventv1.EventSeverityInfo && e.Severity != eventv1.EventSeverityError && e.Severity != eventv1.EventSeverityTrace:
		return nil, fmt.Errorf("severity %q is not trace, info or error", e.Severity)
	case e.Timestamp.IsZero():
		return nil, fmt.Errorf("timestamp is missing")
	case e.Message == "" || len(e.Message) > 39000:
		return nil, fmt.Errorf("message must have 1 to 39000 characters, has %d", len(e.Message))
	case e.Reason == "" || e.ReportingController == "":
		return nil, fmt.Errorf("reason and reportingController are required")
	}
	// notification-controller keeps only the metadata keys prefixed with the involved object's
	// group, without the prefix (internal/server cleanupMetadata), before its notifiers read them.
	group := e.InvolvedObject.GroupVersionKind().Group
	clean := eventv1.Event{Metadata: map[string]string{}}
	for k, v := range e.Metadata {
		if strings.HasPrefix(k, group+"/") {
			clean.Metadata[strings.TrimPrefix(k, group+"/")] = v
		}
	}
	rev, _ := clean.GetRevision()
	return &seen{
		Kind:         e.InvolvedObject.Kind,
		Severity:     e.Severity,
		Reason:       e.Reason,
		Revision:     rev,
		CommitStatus: e.Metadata[group+"/"+eventv1.MetaCommitStatusKey] == eventv1.MetaCommitStatusUpdateValue,
	}, nil
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for n := 1; in.Scan(); n++ {
		if len(bytes.TrimSpace(in.Bytes())) == 0 {
			continue
		}
		s, err := check(in.Bytes())
		if err != nil {
			fmt.Fprintf(os.Stderr, "event %d: %v\n", n, err)
			os.Exit(1)
		}
		_ = out.Encode(s)
	}
}
