{{/*
Names. Kubernetes names are DNS labels: 63 characters at most, so every name is truncated
the same way and a long release name cannot produce an invalid object.
*/}}
{{- define "gale.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gale.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "gale.operator.fullname" -}}
{{- printf "%s-operator" (include "gale.fullname" . | trunc 54 | trimSuffix "-") -}}
{{- end -}}

{{/*
RBAC objects carry the release namespace in their name: ClusterRoles are cluster-wide and
Roles may sit in a namespace that another release of the same name also watches.
*/}}
{{- define "gale.operator.rbacName" -}}
{{- printf "%s-%s" .Release.Namespace (include "gale.operator.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The kopf peering object's name: like the RBAC objects, unique per release in the cluster.
*/}}
{{- define "gale.operator.peeringName" -}}
{{- default (include "gale.operator.rbacName" . | trimPrefix "-") .Values.operator.peering.name -}}
{{- end -}}

{{- define "gale.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gale.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gale.operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Labels. Call with (dict "context" $ "component" "operator"): every object carries the
recommended app.kubernetes.io/* set plus helm.sh/chart; selectors use only the stable subset
so an upgrade never changes an immutable Deployment selector.
*/}}
{{- define "gale.labels" -}}
helm.sh/chart: {{ include "gale.chart" .context }}
{{ include "gale.selectorLabels" . }}
app.kubernetes.io/version: {{ .context.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
app.kubernetes.io/part-of: gale
{{- with .context.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "gale.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gale.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
An `annotations:` block of commonAnnotations merged with the object's own (which win),
indented by .indent; renders nothing at all when both are empty, so no blank lines either.
*/}}
{{- define "gale.annotations" -}}
{{- $all := merge (deepCopy (default dict .annotations)) (deepCopy (default dict .context.Values.commonAnnotations)) -}}
{{- if $all }}
{{ dict "annotations" $all | toYaml | indent (int .indent) }}
{{- end }}
{{- end -}}

{{/*
Image reference. Call with (dict "image" .Values.operator.image "context" $): a digest pins
the exact image and wins over the tag; an empty tag means the chart's appVersion.
*/}}
{{- define "gale.image" -}}
{{- $repository := .image.repository -}}
{{- if .image.registry -}}
{{- $repository = printf "%s/%s" .image.registry .image.repository -}}
{{- end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (default .context.Chart.AppVersion .image.tag | toString) -}}
{{- end -}}
{{- end -}}

{{/* The pod's `imagePullSecrets:` block indented by .indent, or nothing. */}}
{{- define "gale.imagePullSecrets" -}}
{{- with .context.Values.imagePullSecrets }}
{{ dict "imagePullSecrets" . | toYaml | indent (int $.indent) }}
{{- end }}
{{- end -}}

{{/* Label that lets a pod through the operator's NetworkPolicy when allowExternal is false. */}}
{{- define "gale.clientLabel" -}}
{{- printf "%s-client" (include "gale.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gale.instance.name" -}}
{{- default (include "gale.fullname" .) .Values.instance.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Secret the Microservice reads its MongoDB URI from: yours, or the one the chart makes. */}}
{{- define "gale.instance.mongodbSecretName" -}}
{{- if .Values.instance.mongodb.existingSecret -}}
{{- .Values.instance.mongodb.existingSecret -}}
{{- else -}}
{{- printf "%s-mongodb" (include "gale.instance.name" . | trunc 55 | trimSuffix "-") -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the service's signing keys: yours, or the one the chart generates. */}}
{{- define "gale.instance.appSecretName" -}}
{{- if .Values.instance.appSecrets.existingSecret -}}
{{- .Values.instance.appSecrets.existingSecret -}}
{{- else -}}
{{- printf "%s-app-secrets" (include "gale.instance.name" . | trunc 51 | trimSuffix "-") -}}
{{- end -}}
{{- end -}}

{{/*
The service's signing keys as env entries read from that Secret (a production service
refuses to start without them), followed by instance.env; an entry of instance.env with
the same name replaces the chart's, since the CRD keys env by name.
*/}}
{{- define "gale.instance.env" -}}
{{- $secret := include "gale.instance.appSecretName" . -}}
{{- $user := dict -}}
{{- range .Values.instance.env -}}
{{- $_ := set $user .name true -}}
{{- end -}}
{{- $env := list -}}
{{- range $key := list "secret_key" "jwt_keys" "cookie_secrets" -}}
{{- $name := printf "GALE_%s" (upper $key) -}}
{{- if not (hasKey $user $name) -}}
{{- $env = append $env (dict "name" $name "valueFrom" (dict "secretKeyRef" (dict "name" $secret "key" $key))) -}}
{{- end -}}
{{- end -}}
{{- toYaml (concat $env .Values.instance.env) -}}
{{- end -}}
