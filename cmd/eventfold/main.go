package main

import (
	"bytes"
	"embed"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"text/template"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/eventfold/eventfold/cli"
)

//go:embed all:templates
var templates embed.FS

func main() {
	cli.Main(options(os.Stdout, os.Stderr))
}

// options are those of the generic binary: no projections, plus the
// scaffolder.
func options(stdout, stderr io.Writer) cli.Options {
	return cli.Options{
		Use:      "eventfold",
		Short:    "Scaffold and operate eventfold applications",
		Commands: []*cobra.Command{newCommand(stdout, stderr)},
		Stdout:   stdout,
		Stderr:   stderr,
	}
}

// newCommand hands its arguments to the scaffolder, which parses its own
// flags (and keeps accepting them before and after the module path).
func newCommand(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "new <module path> [flags]",
		Short: "Scaffold a tested application",
		Long: `Write a small, complete application into a new folder: a decider with its
tests, a projection with a Redis read model, an HTTP API with consistency
tokens, an end-to-end test, a README and a Makefile; then run go mod tidy.

Run from a checkout of eventfold (go run ./cmd/eventfold, or a binary built
there), it points the application at that checkout with a replace directive
unless --replace says otherwise; run from a published version, it requires
that version.

Flags:
` + flagHelp(),
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if a == "-h" || a == "--help" {
					return cmd.Help()
				}
			}
			return run(append([]string{"new"}, args...), stdout, stderr)
		},
	}
	// The connection flags of the other commands do not apply to new.
	cmd.SetHelpFunc(func(c *cobra.Command, _ []string) {
		fmt.Fprintf(c.OutOrStdout(), "%s\n\nUsage:\n  %s\n", c.Long, c.UseLine())
	})
	return cmd
}

const usage = `usage: eventfold new <module path> [--aggregate Name] [--dir path] [--replace path] [--no-tidy]`

// newOptions are new's flags.
type newOptions struct {
	aggregate, dir, replace string
	noTidy                  bool
}

func newFlags(o *newOptions) *flag.FlagSet {
	fset := flag.NewFlagSet("new", flag.ContinueOnError)
	fset.StringVar(&o.aggregate, "aggregate", "Order", "name of the aggregate, an exported Go name such as `Order`")
	fset.StringVar(&o.dir, "dir", "", "folder to write the application to, which must not exist or be empty\n(default: last element of the module path)")
	fset.StringVar(&o.replace, "replace", "", "`path` of a local eventfold checkout to use through a replace directive\n(default: the checkout this command runs from, if any)")
	fset.BoolVar(&o.noTidy, "no-tidy", false, "do not run go mod tidy in the new application")
	return fset
}

// flagHelp describes new's flags.
func flagHelp() string {
	var b strings.Builder
	fset := newFlags(&newOptions{})
	fset.SetOutput(&b)
	fset.PrintDefaults()
	return strings.TrimRight(strings.ReplaceAll(b.String(), "  -", "  --"), "\n")
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "new" {
		return errors.New(usage)
	}
	var o newOptions
	fset := newFlags(&o)
	fset.SetOutput(stderr)
	// Accept flags before and after the module path.
	rest := args[1:]
	var positional []string
	for len(rest) > 0 {
		if err := fset.Parse(rest); err != nil {
			return err
		}
		rest = fset.Args()
		if len(rest) > 0 {
			positional = append(positional, rest[0])
			rest = rest[1:]
		}
	}
	if len(positional) != 1 {
		return errors.New(usage)
	}
	p, err := newParams(positional[0], o.aggregate, o.replace)
	if err != nil {
		return err
	}
	if o.dir == "" {
		o.dir = path.Base(p.Module)
	}
	if err := generate(o.dir, p); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s to %s\n", p.Module, o.dir)
	if p.Replace != "" {
		fmt.Fprintf(stdout, "it uses eventfold from %s (a replace directive in go.mod)\n", p.Replace)
	}
	if !o.noTidy {
		cmd := exec.Command("go", "mod", "tidy")
		cmd.Dir = o.dir
		cmd.Stdout, cmd.Stderr = stdout, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go mod tidy in %s: %w", o.dir, err)
		}
	}
	fmt.Fprintf(stdout, "next: cd %s && make test && make run\n", o.dir)
	return nil
}

// params are the values the templates see.
type params struct {
	Module  string // example.com/shop
	App     string // shop
	Name    string // Order
	Lower   string // order
	Plural  string // orders
	Article string // "an", as in "an order"
	framework
}

// framework says where the application gets eventfold from: a replace
// directive to a checkout, or a published version (neither: the latest).
type framework struct {
	Replace string // absolute path of a checkout, or ""
	Version string // a published version, such as v1.4.0, or ""
}

var (
	modulePattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9.\-_~]*(/[A-Za-z0-9][A-Za-z0-9.\-_~]*)*$`)
	aggregatePattern = regexp.MustCompile(`^[A-Z][A-Za-z0-9]{0,30}$`)
)

func newParams(module, aggregate, replace string) (params, error) {
	if !modulePattern.MatchString(module) {
		return params{}, fmt.Errorf("module path %q: want something like example.com/shop", module)
	}
	if !aggregatePattern.MatchString(aggregate) {
		return params{}, fmt.Errorf("--aggregate %q: want an exported Go name such as Order", aggregate)
	}
	p := params{Module: module, Name: aggregate}
	p.Lower = string(unicode.ToLower(rune(aggregate[0]))) + aggregate[1:]
	p.Lower = strings.ToLower(p.Lower)
	p.Plural = plural(p.Lower)
	p.Article = article(p.Lower)
	p.App = strings.NewReplacer(".", "", "-", "", "_", "", "~", "").Replace(path.Base(module))
	if p.App == "" || !unicode.IsLetter(rune(p.App[0])) {
		p.App = "app"
	}
	if replace == "" {
		// Where this command's own source is tells which eventfold it is.
		_, file, _, _ := runtime.Caller(0)
		fw, err := frameworkFrom(file)
		if err != nil {
			return params{}, err
		}
		p.framework = fw
		return p, nil
	}
	abs, err := filepath.Abs(replace)
	if err != nil {
		return params{}, err
	}
	if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
		return params{}, fmt.Errorf("--replace %s: not a module: %w", replace, err)
	}
	p.Replace = filepath.ToSlash(abs)
	return p, nil
}

// frameworkModule is eventfold's module path.
const frameworkModule = "github.com/eventfold/eventfold"

// frameworkFrom tells where eventfold is from the path of this file as the
// compiler saw it: inside a checkout (replace it), inside the module cache
// (that published version), or neither, for example a -trimpath build of a
// checkout or a binary whose checkout has moved, which is an error.
func frameworkFrom(source string) (framework, error) {
	slashed := filepath.ToSlash(source)
	if i := strings.Index(slashed, frameworkModule+"@"); i >= 0 {
		version, _, _ := strings.Cut(slashed[i+len(frameworkModule)+1:], "/")
		return framework{Version: version}, nil
	}
	if filepath.IsAbs(source) {
		for dir := filepath.Dir(source); ; dir = filepath.Dir(dir) {
			if isFramework(filepath.Join(dir, "go.mod")) {
				return framework{Replace: filepath.ToSlash(dir)}, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return framework{}, fmt.Errorf("cannot tell which eventfold checkout this command was built from (its source was %s): "+
		"pass --replace with the path of an eventfold checkout", source)
}

// isFramework reports whether gomod is eventfold's go.mod.
func isFramework(gomod string) bool {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == frameworkModule
		}
	}
	return false
}

// plural returns the English plural of a lower-case noun.
func plural(noun string) string {
	switch {
	case strings.HasSuffix(noun, "y") && len(noun) > 1 && !strings.ContainsRune("aeiou", rune(noun[len(noun)-2])):
		return noun[:len(noun)-1] + "ies"
	case strings.HasSuffix(noun, "s"), strings.HasSuffix(noun, "x"), strings.HasSuffix(noun, "z"),
		strings.HasSuffix(noun, "ch"), strings.HasSuffix(noun, "sh"):
		return noun + "es"
	}
	return noun + "s"
}

// article returns "a" or "an" for a lower-case noun, by its sound where
// the first letter misleads (a unit, an hour).
func article(noun string) string {
	for _, p := range []string{"uni", "use", "usu", "uti", "ure", "eu", "one", "once"} {
		if strings.HasPrefix(noun, p) {
			return "a"
		}
	}
	for _, p := range []string{"hour", "honest", "honor", "honour", "heir"} {
		if strings.HasPrefix(noun, p) {
			return "an"
		}
	}
	if strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an"
	}
	return "a"
}

// generate writes every template to dir, which must not exist or be empty.
// A template's path names its file: "__lower__" becomes p.Lower and the
// ".tmpl" suffix is dropped. Go files are gofmt'ed.
func generate(dir string, p params) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s exists and is not empty", dir)
	}
	return fs.WalkDir(templates, "templates", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		text, err := templates.ReadFile(name)
		if err != nil {
			return err
		}
		t, err := template.New(name).Delims("{%", "%}").Parse(string(text))
		if err != nil {
			return fmt.Errorf("template %s: %w", name, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, p); err != nil {
			return fmt.Errorf("template %s: %w", name, err)
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".tmpl")
		rel = strings.ReplaceAll(rel, "__lower__", p.Lower)
		out := buf.Bytes()
		if strings.HasSuffix(rel, ".go") {
			if out, err = format.Source(out); err != nil {
				return fmt.Errorf("template %s: generated Go does not parse: %w", name, err)
			}
		}
		target := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, out, 0o644)
	})
}
