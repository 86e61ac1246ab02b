package runbooks

import "github.com/opsrunbook/runbook/plan"

// Document is a parsed runbook file. Every value keeps its position.
// The struct tags drive decoding (yaml, required) and the JSON Schema (doc).
type Document struct {
	Pos        plan.Pos
	APIVersion String   `yaml:"apiVersion" required:"true" doc:"Format version; always runbook/v1."`
	Kind       String   `yaml:"kind" required:"true" doc:"Always Runbook."`
	Metadata   Metadata `yaml:"metadata" required:"true" doc:"Name and descriptive fields."`
	Spec       Spec     `yaml:"spec" required:"true" doc:"What the runbook takes and does."`

	file string
}

// Metadata names and describes a runbook.
type Metadata struct {
	plan.Pos
	Name        String       `yaml:"name" required:"true" doc:"Unique name: lowercase letters, digits and dashes, starting with a letter, at most 63 characters."`
	Title       String       `yaml:"title" doc:"One-line human title."`
	Description String       `yaml:"description" doc:"Free text."`
	Owners      List[String] `yaml:"owners" doc:"Groups that own the runbook."`
	Labels      Map[String]  `yaml:"labels" doc:"String labels for filtering."`
}

// Spec is the body of a runbook.
type Spec struct {
	plan.Pos
	Params      List[*Param]    `yaml:"params" doc:"Typed inputs, in order."`
	Secrets     List[String]    `yaml:"secrets" doc:"Secret names this runbook may read as secrets.NAME inside action with templates; values come from the worker."`
	Timeout     String          `yaml:"timeout" doc:"Limit for the whole run (Go duration plus d, e.g. 2h, 1d12h). Compensations and finally still run."`
	Concurrency *Concurrency    `yaml:"concurrency" doc:"At most one running run per key."`
	Schedules   List[*Schedule] `yaml:"schedules" doc:"Cron schedules that start runs."`
	Triggers    List[*Trigger]  `yaml:"triggers" doc:"Events that start runs."`
	Vars        Map[String]     `yaml:"vars" doc:"Values computed once when the run starts, as CEL over params and run; read as vars.NAME."`
	Steps       List[*Step]     `yaml:"steps" required:"true" doc:"The steps, run in order."`
	OnFailure   List[*Step]     `yaml:"onFailure" doc:"Steps run after compensations when the run failed; error is in scope."`
	Finally     List[*Step]     `yaml:"finally" doc:"Steps always run last."`
	Outputs     Map[String]     `yaml:"outputs" doc:"Named CEL expressions evaluated when the run succeeded."`
	// OnStepFailure is the default of every action, assert and runbook step in steps.
	OnStepFailure *OnStepFailure `yaml:"onStepFailure" doc:"The default onStepFailure of every action, assert and runbook step in steps: fail or ask."`
}

// Param is a typed runbook input.
type Param struct {
	plan.Pos
	Name        String    `yaml:"name" required:"true" doc:"A CEL identifier: lowercase letters, digits and underscores."`
	Type        String    `yaml:"type" required:"true" doc:"string, int, number, bool, duration, list or map." enum:"string,int,number,bool,duration,list,map"`
	Items       String    `yaml:"items" doc:"Element type of a list: string, int, number, bool or duration." enum:"string,int,number,bool,duration"`
	Description String    `yaml:"description" doc:"Shown to whoever starts a run."`
	Required    Bool      `yaml:"required" doc:"Must be given when there is no default."`
	Default     Raw       `yaml:"default" doc:"Value used when none is given; must satisfy the type and every constraint."`
	Enum        List[Raw] `yaml:"enum" doc:"Allowed values."`
	Pattern     String    `yaml:"pattern" doc:"RE2 regular expression a string must match."`
	Min         Number    `yaml:"min" doc:"Smallest allowed int or number."`
	Max         Number    `yaml:"max" doc:"Largest allowed int or number."`
	Fixed       Bool      `yaml:"fixed" doc:"The default is the only value: a run that gives this param is refused. Needs a default."`
}

// Concurrency limits runs that share a key.
type Concurrency struct {
	plan.Pos
	Key        String `yaml:"key" doc:"CEL string over params and run; default: the runbook name."`
	OnConflict String `yaml:"onConflict" doc:"reject: refuse a new run while one with the key runs; attach: return the running run." enum:"reject,attach"`
}

// Schedule starts runs on a cron spec.
type Schedule struct {
	plan.Pos
	Name          String   `yaml:"name" required:"true" doc:"Unique schedule name."`
	Cron          String   `yaml:"cron" required:"true" doc:"Five-field cron spec or @hourly, @daily, @weekly, @monthly, @every 1h."`
	Timezone      String   `yaml:"timezone" doc:"IANA time zone; default UTC."`
	Params        Map[Raw] `yaml:"params" doc:"Literal param values, checked like a trigger."`
	Overlap       String   `yaml:"overlap" doc:"What to do when the previous run still runs." enum:"skip,buffer-one,buffer-all,cancel-other,terminate-other,allow-all"`
	CatchupWindow String   `yaml:"catchupWindow" doc:"How late a missed fire may still start."`
	Paused        Bool     `yaml:"paused" doc:"Create the schedule paused."`
}

// Trigger starts runs from an external event.
type Trigger struct {
	plan.Pos
	Alertmanager *AlertmanagerTrigger `yaml:"alertmanager" doc:"Start a run for a matching Alertmanager alert."`
	Webhook      *WebhookTrigger      `yaml:"webhook" doc:"Start a run for a matching, signed JSON webhook (PagerDuty, Opsgenie, Grafana, GitHub...)."`
}

// WebhookTrigger matches JSON webhooks posted to /hooks/webhook/NAME.
type WebhookTrigger struct {
	plan.Pos
	Name            String           `yaml:"name" required:"true" doc:"Unique name; the hook's URL is /hooks/webhook/NAME."`
	Match           String           `yaml:"match" doc:"CEL bool over body (the JSON payload) and headers (lower-case names, only those in signedHeaders); default: every request."`
	Params          Map[String]      `yaml:"params" doc:"CEL expression per param, over body and headers."`
	Secret          String           `yaml:"secret" required:"true" doc:"Name of a secret in spec.secrets: the HMAC-SHA256 key (at least 16 bytes) the sender signs with; the API reads it from RUNBOOK_WEBHOOK_SECRET_NAME or RUNBOOK_WEBHOOK_SECRETS_DIR."`
	SignatureHeader String           `yaml:"signatureHeader" doc:"Header carrying the signature t=UNIX,id=DELIVERY,v1=HEX (default X-Signature-256)."`
	SignedHeaders   List[String]     `yaml:"signedHeaders" doc:"Request headers the signature covers, in this order; match and params may read only these."`
	Incident        *WebhookIncident `yaml:"incident" doc:"Open (or resolve) an incident for each delivery the trigger matches; its runs are linked to it."`
}

// WebhookIncident says which incident a matching webhook delivery reports.
type WebhookIncident struct {
	plan.Pos
	Key      String `yaml:"key" required:"true" doc:"CEL string over body and headers: deliveries with the same key (per webhook name) are one incident."`
	Title    String `yaml:"title" doc:"CEL string: the incident's title (default: the webhook's name)."`
	Severity String `yaml:"severity" doc:"CEL string: its severity."`
	Service  String `yaml:"service" doc:"CEL string: its service."`
	Resolved String `yaml:"resolved" doc:"CEL bool: the delivery says the problem is resolved, and resolves the incident (default: every delivery reports it firing)."`
}

// AlertmanagerTrigger matches Alertmanager webhook alerts.
type AlertmanagerTrigger struct {
	plan.Pos
	Match      String      `yaml:"match" required:"true" doc:"CEL bool over alert (status, labels, annotations, startsAt, fingerprint)."`
	Params     Map[String] `yaml:"params" doc:"CEL expression per param, over alert."`
	OnResolved String      `yaml:"onResolved" doc:"What happens to the runs this trigger started for an incident that are still running when the incident's alert group resolves: finish (the default) lets them finish, cancel cancels them." enum:"finish,cancel"`
}

// Step is one unit of work. Exactly one kind field is set: action,
// approval, parallel, steps, forEach, runbook, sleep or waitFor.
type Step struct {
	plan.Pos
	ID              String `yaml:"id" required:"true" doc:"Unique id in the runbook: lowercase letters, digits and underscores."`
	Name            String `yaml:"name" doc:"Human name."`
	Description     String `yaml:"description" doc:"Free text."`
	If              String `yaml:"if" doc:"CEL bool; when false the step is skipped."`
	ContinueOnError Bool   `yaml:"continueOnError" doc:"A failure of this step does not fail the run."`
	Resumable       Bool   `yaml:"resumable" doc:"false: a rerun resumed from a later step runs this step again instead of reusing its recorded outputs (default true)."`
	// OnStepFailure is on action, assert and runbook steps only.
	OnStepFailure *OnStepFailure `yaml:"onStepFailure" doc:"What a failure of this action, assert or runbook step does, after its retries: fail (default) or ask (the run waits for a decision); overrides spec.onStepFailure."`

	Action     String      `yaml:"action" doc:"Run an action."`
	With       Map[Raw]    `yaml:"with" doc:"Action inputs; strings may hold ${{ CEL }} templates."`
	Timeout    String      `yaml:"timeout" doc:"Per-attempt limit of an action."`
	Retry      *Retry      `yaml:"retry" doc:"Retry policy of an action."`
	Repeat     *Repeat     `yaml:"repeat" doc:"Run the action again until a condition holds."`
	Compensate *Compensate `yaml:"compensate" doc:"Undo action, run in reverse order if the run later fails."`

	Approval *Approval   `yaml:"approval" doc:"Wait for approvers to sign off."`
	Assert   *Assert     `yaml:"assert" doc:"Fail the run with a message unless a condition holds."`
	Set      Map[String] `yaml:"set" doc:"Compute vars from earlier outputs: name: CEL."`
	Exit     *Exit       `yaml:"exit" doc:"End the run successfully here, skipping the remaining steps."`
	Parallel List[*Step] `yaml:"parallel" doc:"Run these steps concurrently; each branch is one step."`
	FailFast Bool        `yaml:"failFast" doc:"With parallel: cancel the other branches when one fails (default true)."`

	Steps          List[*Step] `yaml:"steps" doc:"A sequential group, or the body of forEach."`
	ForEach        String      `yaml:"forEach" doc:"CEL list; the steps run once per item."`
	As             String      `yaml:"as" doc:"With forEach: the loop variable name (default item)."`
	MaxConcurrency Raw         `yaml:"maxConcurrency" doc:"With forEach: how many items run at once, an int or a ${{ }} expression (default 1)."`
	MaxErrors      Raw         `yaml:"maxErrors" doc:"With forEach: failed items tolerated before no new item starts, an int, a percentage such as 10%, or a ${{ }} expression (default 0)."`
	BatchSize      Raw         `yaml:"batchSize" doc:"With forEach: run items in batches of this size, each batch finishing before the next starts; an int or a ${{ }} expression."`
	OnError        List[*Step] `yaml:"onError" doc:"With forEach: steps run for an item whose body failed; error and the loop variable are in scope."`

	Runbook *SubRunbook `yaml:"runbook" doc:"Run another registered runbook as a child."`
	Sleep   String      `yaml:"sleep" doc:"Wait for a duration (a durable timer)."`
	WaitFor *WaitFor    `yaml:"waitFor" doc:"Wait for an event posted to the run."`
}

// Retry is an action's retry policy.
type Retry struct {
	plan.Pos
	MaxAttempts     Int          `yaml:"maxAttempts" doc:"Attempts in all, at least 1 (default 1)."`
	InitialInterval String       `yaml:"initialInterval" doc:"Wait before the first retry (default 1s)."`
	Backoff         Number       `yaml:"backoff" doc:"Multiplier of the wait after each retry, at least 1 (default 2)."`
	MaxInterval     String       `yaml:"maxInterval" doc:"Longest wait between retries."`
	NonRetryable    List[String] `yaml:"nonRetryable" doc:"Error types that are never retried."`
}

// Repeat runs an action again until a condition holds.
type Repeat struct {
	plan.Pos
	Until   String `yaml:"until" required:"true" doc:"CEL bool over outputs (this attempt's outputs) and earlier steps."`
	Every   String `yaml:"every" doc:"Wait between attempts (default 10s)."`
	Timeout String `yaml:"timeout" doc:"Give up (the step fails) after this long."`
}

// Compensate is the undo of an action step.
type Compensate struct {
	plan.Pos
	Action String      `yaml:"action" doc:"The undo action."`
	With   Map[Raw]    `yaml:"with" doc:"Its inputs; may read this step's outputs."`
	Steps  List[*Step] `yaml:"steps" doc:"Or a multi-step undo, with its own waits and retries."`
}

// Assert fails the run unless a condition holds.
type Assert struct {
	plan.Pos
	That    String `yaml:"that" required:"true" doc:"CEL bool that must hold."`
	Message Raw    `yaml:"message" doc:"Failure message; may hold ${{ }} templates."`
}

// Exit ends the run successfully.
type Exit struct {
	plan.Pos
	Message Raw `yaml:"message" doc:"Why the run ends here; may hold ${{ }} templates."`
}

// Approval waits for people to sign off.
type Approval struct {
	plan.Pos
	Message           Raw             `yaml:"message" doc:"What the approvers are asked; may hold ${{ }} templates."`
	Approvers         Raw             `yaml:"approvers" required:"true" doc:"Users, or group:NAME for every member of a group, or {group: NAME, min: N} for a group that must give N of the approvals (a person counts for one group); or a ${{ }} list expression over params."`
	Inputs            List[*Param]    `yaml:"inputs" doc:"Typed values the approver supplies with the vote, read as steps.ID.outputs.inputs.NAME."`
	Notify            *ApprovalNotify `yaml:"notify" doc:"Send a notification when the approval starts waiting."`
	RemindEvery       String          `yaml:"remindEvery" doc:"Repeat the notification this often while waiting."`
	MinApprovals      Int             `yaml:"minApprovals" doc:"Distinct approvals needed (default 1)."`
	AllowSelfApproval Bool            `yaml:"allowSelfApproval" doc:"Let whoever started the run approve it (default false)."`
	Timeout           String          `yaml:"timeout" doc:"How long to wait; a timeout never approves."`
	OnTimeout         String          `yaml:"onTimeout" doc:"reject (default) or escalate." enum:"reject,escalate"`
	EscalateTo        List[String]    `yaml:"escalateTo" doc:"Approvers added on escalation; the timeout restarts once."`
}

// ApprovalNotify says where to announce a waiting approval.
type ApprovalNotify struct {
	plan.Pos
	URL  Raw `yaml:"url" doc:"Webhook URL, usually ${{ secrets.NAME }} (required)."`
	Text Raw `yaml:"text" doc:"Message text; may hold ${{ }} templates (required)."`
}

// SubRunbook runs another runbook as a child run.
type SubRunbook struct {
	plan.Pos
	Name   String   `yaml:"name" required:"true" doc:"The child runbook's name."`
	Params Map[Raw] `yaml:"params" doc:"The child's params; strings may hold ${{ }} templates."`
}

// WaitFor waits for a named event posted to the run.
type WaitFor struct {
	plan.Pos
	Event     String       `yaml:"event" required:"true" doc:"Event name."`
	Timeout   String       `yaml:"timeout" doc:"How long to wait."`
	OnTimeout String       `yaml:"onTimeout" doc:"fail (default) or continue." enum:"fail,continue"`
	Senders   List[String] `yaml:"senders" doc:"Users or group:NAME allowed to post the event; default anyone with the operator role."`
}
