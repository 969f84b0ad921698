package remediate

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"

	"github.com/osprey-aiops/osprey"
)

// Triggers and step conditions are CEL expressions over two variables:
// `incident`, with snake_case fields (id, title, status, severity,
// severity_rank, labels, assignee, opened_at, updated_at, members, causes),
// and `now`, the engine's clock. The incident is a declared type, so a
// misspelt field is a configuration error, found by check-config, not a
// runtime surprise. A missing map key (incident.labels.nope) is an
// evaluation error, which counts as false; incident.labels.?service.orValue("")
// and "service" in incident.labels test for presence.

// celIncident is the CEL view of an osprey.Incident.
type celIncident struct {
	ID           string            `cel:"id"`
	Title        string            `cel:"title"`
	Status       string            `cel:"status"`
	Severity     string            `cel:"severity"`
	SeverityRank int               `cel:"severity_rank"`
	Labels       map[string]string `cel:"labels"`
	Assignee     string            `cel:"assignee"`
	OpenedAt     time.Time         `cel:"opened_at"`
	UpdatedAt    time.Time         `cel:"updated_at"`
	Members      []celMember       `cel:"members"`
	Causes       []celCause        `cel:"causes"`
}

// celMember is the CEL view of an osprey.Member.
type celMember struct {
	Kind     string            `cel:"kind"`
	Name     string            `cel:"name"`
	Labels   map[string]string `cel:"labels"`
	Severity string            `cel:"severity"`
	Status   string            `cel:"status"`
	Count    int               `cel:"count"`
}

// celCause is the CEL view of an osprey.Cause.
type celCause struct {
	Kind  string  `cel:"kind"`
	Name  string  `cel:"name"`
	Score float64 `cel:"score"`
}

// celCostLimit bounds one evaluation; real triggers cost a few hundred.
const celCostLimit = 1_000_000

func newCELEnv() (*cel.Env, error) {
	env, err := cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[celIncident](), ext.ParseStructTags(true)),
		cel.Variable("incident", cel.ObjectType("remediate.celIncident")),
		cel.Variable("now", cel.TimestampType),
		cel.OptionalTypes(),
		ext.Strings(),
	)
	if err != nil {
		return nil, fmt.Errorf("BUG: build CEL environment: %w", err)
	}
	return env, nil
}

// compileCEL parses and type-checks a boolean expression.
func compileCEL(env *cel.Env, src string) (cel.Program, error) {
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("must be a boolean expression, is %s", ast.OutputType())
	}
	prg, err := env.Program(ast, cel.CostLimit(celCostLimit))
	if err != nil {
		return nil, err
	}
	return prg, nil
}

// celVars is the activation of one incident at one time.
func celVars(inc *osprey.Incident, now time.Time) map[string]any {
	v := &celIncident{
		ID: inc.ID, Title: inc.Title, Status: string(inc.Status),
		Severity: inc.Severity.String(), SeverityRank: int(inc.Severity),
		Labels: map[string]string(inc.Labels.Clone()), Assignee: inc.Assignee,
		OpenedAt: inc.OpenedAt, UpdatedAt: inc.UpdatedAt,
	}
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	for _, m := range inc.Members {
		l := map[string]string(m.Labels.Clone())
		if l == nil {
			l = map[string]string{}
		}
		v.Members = append(v.Members, celMember{Kind: string(m.Kind), Name: m.Name, Labels: l,
			Severity: m.Severity.String(), Status: string(m.Status), Count: m.Count})
	}
	for _, c := range inc.Causes {
		v.Causes = append(v.Causes, celCause{Kind: string(c.Kind), Name: c.Name, Score: c.Score})
	}
	return map[string]any{"incident": v, "now": now}
}

// evalBool evaluates a compiled boolean expression.
func evalBool(prg cel.Program, vars map[string]any) (bool, error) {
	out, _, err := prg.Eval(vars)
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, errors.New("expression did not return a boolean")
	}
	return b, nil
}
