// helm-render: a test-only stand-in for `helm template`, for machines where Helm cannot be
// installed. Helm's template engine is Go's text/template with the sprig function library
// plus a few functions of its own; this program wires exactly those together:
//
//   - sprig's TxtFuncMap without env/expandenv (Helm removes them too);
//   - Helm's include, tpl, required, fail, toYaml, fromYaml, toJson, fromJson;
//   - missingkey=zero and "<no value>" → "" like Helm's non-strict rendering;
//   - values: Chart's values.yaml deep-merged with each -f file in order (maps merge,
//     a null in an override deletes the key), numbers as float64 like Helm (YAML → JSON);
//   - .Release, .Chart (Chart.yaml keys capitalised), .Values, .Template, .Capabilities (minimal).
//
// Not supported (the chart must not use them): lookup, .Files, subcharts, schema checks.
//
// Usage: helm-render [--name R] [--namespace N] [--kube-version vX.Y.Z] [--notes] [--show-values] [-f values.yaml]... CHART_DIR
// Prints the manifests separated by "---" with "# Source: <chart>/templates/<file>" lines,
// like `helm template` (--notes: then NOTES.txt after "NOTES:"; --show-values: only the merged
// values, as JSON, like `helm get values --all`). A template error is printed on stderr; exit code 1.
//
// helm-render --serve: many renders in one process (the tests render hundreds of times, and
// starting the process and parsing the templates was most of each render's time). Each stdin
// line is a request {"args": [the arguments above]}; each answer is one stdout line
// {"stdout": …, "stderr": …, "status": exit code}, exactly what the one-shot run would print.
// A chart's templates are parsed at its first request and kept (they must not change while
// serving); Chart.yaml and the values files are read afresh and the templates executed anew for
// every request (values files are parsed once per content, each request gets its own copy), so
// no request sees another's values. Ends at the end of stdin.
//
// Build (Debian packages golang-go, golang-github-masterminds-sprig-dev, golang-gopkg-yaml.v3-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o /tmp/helm-render ./test/support/helm-render
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type options struct {
	name      string
	namespace string
	notes     bool
	showVals  bool
	kube      string
	values    []string
	chart     string
}

func parseArgs(args []string) (options, error) {
	o := options{name: "release-name", namespace: "default", kube: "v1.31.0"}
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value", a)
			}
			i++
			return args[i], nil
		}
		var err error
		switch a {
		case "-f", "--values":
			var v string
			v, err = next()
			o.values = append(o.values, v)
		case "--name":
			o.name, err = next()
		case "-n", "--namespace":
			o.namespace, err = next()
		case "--kube-version":
			o.kube, err = next()
			if err == nil && !kubeVersionPattern.MatchString(o.kube) {
				err = fmt.Errorf("--kube-version %q: want vMAJOR.MINOR.PATCH", o.kube)
			}
		case "--notes":
			o.notes = true
		case "--show-values":
			o.showVals = true
		default:
			if strings.HasPrefix(a, "-") || o.chart != "" {
				return o, fmt.Errorf("unexpected argument %q", a)
			}
			o.chart = a
		}
		if err != nil {
			return o, err
		}
	}
	if o.chart == "" {
		return o, errors.New("usage: helm-render [--name R] [--namespace N] [--kube-version vX.Y.Z] [--notes] [--show-values] [-f values.yaml]... CHART_DIR")
	}
	return o, nil
}

// readYAML reads a YAML file the way Helm does: YAML → JSON → Go values (numbers float64).
// With a cache, the file is still read every time but parsed once per content; each caller gets
// its own copy, as templates may change values in place (sprig's set, mergeOverwrite).
func (c *cache) readYAML(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return parseValues(path, data)
	}
	key := path + "\x00" + string(data)
	if m, ok := c.values[key]; ok {
		return stringKeys(m).(map[string]interface{}), nil
	}
	m, err := parseValues(path, data)
	if err != nil {
		return nil, err
	}
	if len(c.values) > 10000 {
		c.values = map[string]map[string]interface{}{}
	}
	c.values[key] = m
	return stringKeys(m).(map[string]interface{}), nil
}

func parseValues(path string, data []byte) (map[string]interface{}, error) {
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if raw == nil {
		return map[string]interface{}{}, nil
	}
	v, err := jsonRoundTrip(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("%s: top level is not a map", path)
	}
	return m, nil
}

// jsonRoundTrip turns YAML-decoded values into what encoding/json yields (float64 numbers, string keys).
func jsonRoundTrip(v interface{}) (interface{}, error) {
	b, err := json.Marshal(stringKeys(v))
	if err != nil {
		return nil, err
	}
	var out interface{}
	err = json.Unmarshal(b, &out)
	return out, err
}

// stringKeys copies maps and lists as it goes (readYAML's cache relies on that).
func stringKeys(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, x := range t {
			m[k] = stringKeys(x)
		}
		return m
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = stringKeys(x)
		}
		return m
	case []interface{}:
		l := make([]interface{}, len(t))
		for i, x := range t {
			l[i] = stringKeys(x)
		}
		return l
	}
	return v
}

// coalesce merges override into base like Helm: maps merge deeply, null deletes, anything else replaces.
func coalesce(base, override map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(base))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range override {
		if v == nil {
			delete(out, k)
			continue
		}
		bm, bok := out[k].(map[string]interface{})
		om, ook := v.(map[string]interface{})
		if bok && ook {
			out[k] = coalesce(bm, om)
		} else {
			out[k] = v
		}
	}
	return out
}

func capitalise(m map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(m))
	for k, v := range m {
		if k == "" {
			continue
		}
		out[strings.ToUpper(k[:1])+k[1:]] = v
	}
	return out
}

// toYAML is Helm's toYaml: JSON-compatible values, two-space indent, no trailing newline.
func toYAML(v interface{}) string {
	j, err := json.Marshal(stringKeys(v))
	if err != nil {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var x interface{}
	if err := dec.Decode(&x); err != nil {
		return ""
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(numbers(x)); err != nil {
		return ""
	}
	_ = enc.Close()
	return strings.TrimSuffix(buf.String(), "\n")
}

// numbers turns json.Number into int64 when integral (as JSON prints it), else float64.
func numbers(v interface{}) interface{} {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case map[string]interface{}:
		for k, x := range t {
			t[k] = numbers(x)
		}
	case []interface{}:
		for i, x := range t {
			t[i] = numbers(x)
		}
	}
	return v
}

func fromYAML(s string) map[string]interface{} {
	var raw interface{}
	if err := yaml.Unmarshal([]byte(s), &raw); err != nil {
		return map[string]interface{}{"Error": err.Error()}
	}
	v, err := jsonRoundTrip(raw)
	if err != nil {
		return map[string]interface{}{"Error": err.Error()}
	}
	m, _ := v.(map[string]interface{})
	if m == nil {
		m = map[string]interface{}{}
	}
	return m
}

func toJSON(v interface{}) string {
	b, err := json.Marshal(stringKeys(v))
	if err != nil {
		return ""
	}
	return string(b)
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

type renderer struct {
	root *template.Template
}

func (r *renderer) funcs() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = toYAML
	f["fromYaml"] = fromYAML
	f["toJson"] = toJSON
	f["fromJson"] = fromJSON
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, errors.New(msg)
		}
		return v, nil
	}
	f["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	f["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		if err := r.root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := r.root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Option("missingkey=zero").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	f["lookup"] = func(...interface{}) (interface{}, error) {
		return nil, errors.New("lookup is not supported by helm-render (and renders empty in helm template)")
	}
	return f
}

// Where a template error happened: the innermost "template: file:line:col:" of the chain.
var errLocation = regexp.MustCompile(`template: ([^:\s]+:\d+:\d+): `)

// helmError formats a fail/required message like Helm: "execution error at (file:line:col): msg".
func helmError(err error) string {
	msg := err.Error()
	for _, marker := range []string{"error calling fail: ", "error calling required: "} {
		if i := strings.LastIndex(msg, marker); i >= 0 {
			where := ""
			if locs := errLocation.FindAllStringSubmatch(msg[:i], -1); len(locs) > 0 {
				where = locs[len(locs)-1][1]
			}
			return fmt.Sprintf("Error: execution error at (%s): %s", where, msg[i+len(marker):])
		}
	}
	return "Error: " + msg
}

// parsedChart is a chart's templates, parsed; executing them changes nothing in them.
type parsedChart struct {
	r     *renderer
	names []string // executable templates ("<chart>/templates/<file>"), sorted; NOTES.txt included
}

// cache keeps, in --serve, parsed charts by directory and chart name and parsed values files by
// path and content; a nil *cache (the one-shot run) parses everything.
type cache struct {
	charts map[string]*parsedChart
	values map[string]map[string]interface{}
}

func newCache() *cache {
	return &cache{charts: map[string]*parsedChart{}, values: map[string]map[string]interface{}{}}
}

func parseChart(chart, chartName string) (*parsedChart, error) {
	// Every file under templates/, in subdirectories too (tests/), as Helm reads them.
	var files []string
	root := filepath.Join(chart, "templates")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	p := &parsedChart{r: &renderer{}}
	p.r.root = template.New("gotpl").Option("missingkey=zero").Funcs(p.r.funcs())
	for _, file := range files {
		base := filepath.Base(file)
		rel, err := filepath.Rel(root, file)
		if err != nil {
			return nil, err
		}
		text, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		name := chartName + "/templates/" + filepath.ToSlash(rel)
		if _, err := p.r.root.New(name).Parse(string(text)); err != nil {
			return nil, err
		}
		if !strings.HasPrefix(base, "_") {
			p.names = append(p.names, name)
		}
	}
	return p, nil
}

func (c *cache) chart(chart, chartName string) (*parsedChart, error) {
	if c == nil {
		return parseChart(chart, chartName)
	}
	key := chart + "\x00" + chartName
	if p, ok := c.charts[key]; ok {
		return p, nil
	}
	p, err := parseChart(chart, chartName)
	if err == nil {
		c.charts[key] = p
	}
	return p, err
}

func run(o options, c *cache) (string, error) {
	chartMeta, err := c.readYAML(filepath.Join(o.chart, "Chart.yaml"))
	if err != nil {
		return "", err
	}
	chartName, _ := chartMeta["name"].(string)
	if chartName == "" {
		return "", errors.New("Chart.yaml has no name")
	}
	values := map[string]interface{}{}
	if _, err := os.Stat(filepath.Join(o.chart, "values.yaml")); err == nil {
		if values, err = c.readYAML(filepath.Join(o.chart, "values.yaml")); err != nil {
			return "", err
		}
	}
	for _, f := range o.values {
		override, err := c.readYAML(f)
		if err != nil {
			return "", err
		}
		values = coalesce(values, override)
	}
	if o.showVals {
		b, err := json.MarshalIndent(values, "", "  ")
		return string(b) + "\n", err
	}
	parsed, err := c.chart(o.chart, chartName)
	if err != nil {
		return "", err
	}
	top := map[string]interface{}{
		"Values":  values,
		"Chart":   capitalise(chartMeta),
		"Release": map[string]interface{}{"Name": o.name, "Namespace": o.namespace, "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1},
		"Capabilities": map[string]interface{}{
			"KubeVersion": kubeVersion(o.kube),
			"HelmVersion": map[string]interface{}{"Version": "v3.16.0"},
		},
	}
	var out, notes strings.Builder
	for _, name := range parsed.names {
		if name == chartName+"/templates/NOTES.txt" && !o.notes {
			continue
		}
		data := make(map[string]interface{}, len(top)+1)
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{"Name": name, "BasePath": chartName + "/templates"}
		var buf bytes.Buffer
		if err := parsed.r.root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if strings.HasSuffix(name, "NOTES.txt") {
			notes.WriteString("NOTES:\n" + text)
			continue
		}
		for _, doc := range splitDocs(text) {
			out.WriteString("---\n# Source: " + name + "\n" + doc + "\n")
		}
	}
	return out.String() + notes.String(), nil
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// splitDocs splits one template's output into its non-empty YAML documents.
func splitDocs(text string) []string {
	var docs []string
	for _, d := range docSep.Split(text, -1) {
		d = strings.Trim(d, "\n")
		if strings.TrimSpace(d) == "" {
			continue
		}
		docs = append(docs, d)
	}
	return docs
}

// invoke is one run of the command line: what it prints on stdout and stderr, and its exit code.
func invoke(args []string, c *cache) (stdout, stderr string, status int) {
	o, err := parseArgs(args)
	if err != nil {
		return "", err.Error() + "\n", 2
	}
	out, err := run(o, c)
	if err != nil {
		return "", helmError(err) + "\n", 1
	}
	return out, "", 0
}

type request struct {
	Args []string `json:"args"`
}

type response struct {
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Status int    `json:"status"`
}

// serve answers one request per stdin line, in order, until stdin ends.
func serve(in *bufio.Reader, out *bufio.Writer) error {
	c := newCache()
	enc := json.NewEncoder(out) // one line per answer: Encode ends it with "\n"
	for {
		line, readErr := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var req request
			var res response
			if err := json.Unmarshal(line, &req); err != nil {
				res = response{Stderr: "bad request: " + err.Error() + "\n", Status: 2}
			} else {
				res.Stdout, res.Stderr, res.Status = invoke(req.Args, c)
			}
			if err := enc.Encode(res); err != nil {
				return err
			}
			if err := out.Flush(); err != nil {
				return err
			}
		}
		if readErr != nil {
			if errors.Is(readErr, io.EOF) {
				return nil
			}
			return readErr
		}
	}
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--serve" {
		if err := serve(bufio.NewReader(os.Stdin), bufio.NewWriter(os.Stdout)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	stdout, stderr, status := invoke(os.Args[1:], nil)
	fmt.Fprint(os.Stderr, stderr)
	fmt.Print(stdout)
	os.Exit(status)
}

// --kube-version, like `helm template --kube-version`: the cluster version templates see in
// .Capabilities.KubeVersion (default v1.31.0).
var kubeVersionPattern = regexp.MustCompile(`^v?([0-9]+)\.([0-9]+)\.[0-9]+$`)

func kubeVersion(v string) map[string]interface{} {
	m := kubeVersionPattern.FindStringSubmatch(v)
	version := "v" + strings.TrimPrefix(v, "v")
	return map[string]interface{}{"Version": version, "Major": m[1], "Minor": m[2], "GitVersion": version}
}
