//! The short descriptions `kubectl explain` prints for the kinds and fields
//! users meet most, written for this simulator (not taken from upstream
//! documentation). A message or field without a line here is served with no
//! description. This file must hold nothing but text.

/// (message short name, description)
const MESSAGES: &[(&str, &str)] = &[
    ("Deployment", "Runs a replicated, declaratively updated set of pods through ReplicaSets."),
    ("DeploymentSpec", "What the deployment should run and how it rolls out changes."),
    ("DeploymentStrategy", "How old pods are replaced by new ones during a rollout."),
    ("ReplicaSet", "Keeps a given number of identical pods running."),
    ("StatefulSet", "Runs pods with stable names and storage, created and updated in order."),
    ("DaemonSet", "Runs one copy of a pod on every eligible node."),
    ("Job", "Runs pods until a given number of them complete successfully."),
    ("JobSpec", "How many pods the job runs, how many at once, and the template they are made from."),
    ("Pod", "One or more containers scheduled together on a node, sharing network and storage."),
    ("PodSpec", "The containers, volumes and scheduling settings of a pod."),
    ("PodTemplateSpec", "The metadata and spec of the pods a workload creates."),
    ("Container", "One container of a pod: its image, command, ports, environment and resources."),
    ("ContainerPort", "A network port a container listens on."),
    ("EnvVar", "An environment variable set in a container."),
    ("ResourceRequirements", "The compute resources a container requests and is limited to."),
    ("Probe", "A health check the kubelet runs against a container."),
    ("Volume", "A named volume that containers of the pod can mount."),
    ("VolumeMount", "Where a volume is mounted inside a container."),
    ("Service", "A stable virtual IP and DNS name in front of a set of pods."),
    ("ServiceSpec", "Which pods a service selects and which ports it exposes."),
    ("ServicePort", "One port a service exposes and the pod port it forwards to."),
    ("Ingress", "Routes external HTTP(S) traffic to services by host and path."),
    ("PodDisruptionBudget", "Limits how many pods of a set voluntary disruptions may take down at once."),
    ("HorizontalPodAutoscaler", "Scales a workload's replicas between bounds to meet metric targets."),
    ("ObjectMeta", "Metadata every persisted object has: name, namespace, labels, annotations and more."),
    ("LabelSelector", "Selects objects by their labels; all given requirements must hold."),
    ("ConfigMap", "Non-secret configuration data as key-value pairs."),
    ("Secret", "Sensitive data as key-value pairs, base64-encoded in JSON."),
    ("Namespace", "A scope for names; most objects live in one."),
    ("ServiceAccount", "An identity for processes running in pods."),
    ("Lease", "A lock or heartbeat record with a holder and a duration."),
];

/// (message short name, field, description)
const FIELDS: &[(&str, &str, &str)] = &[
    ("*", "apiVersion", "The versioned schema of this object, e.g. apps/v1."),
    ("*", "kind", "The type of this object, e.g. Deployment."),
    ("*", "metadata", "Standard object metadata: name, namespace, labels, annotations."),
    ("*", "spec", "The desired state of the object."),
    ("*", "status", "The most recently observed state of the object; written by the system."),
    ("DeploymentSpec", "replicas", "How many pods the deployment should run. Defaults to 1."),
    ("DeploymentSpec", "selector", "Which pods belong to the deployment; must match the template's labels."),
    ("DeploymentSpec", "template", "The pods the deployment creates."),
    ("DeploymentSpec", "strategy", "How existing pods are replaced by new ones."),
    ("DeploymentSpec", "minReadySeconds", "How long a new pod must be ready before it counts as available."),
    ("DeploymentSpec", "revisionHistoryLimit", "How many old ReplicaSets to keep for rollbacks. Defaults to 10."),
    ("DeploymentSpec", "paused", "Whether rollouts are paused."),
    ("DeploymentSpec", "progressDeadlineSeconds", "Seconds a rollout may make no progress before it is reported as failed."),
    ("RollingUpdateDeployment", "maxSurge", "How many pods above the desired count a rollout may create (number or percent)."),
    ("RollingUpdateDeployment", "maxUnavailable", "How many pods below the desired count may be unavailable during a rollout."),
    ("PodSpec", "containers", "The containers of the pod. At least one; their names are unique in the pod."),
    ("PodSpec", "initContainers", "Containers run to completion, in order, before the main containers start."),
    ("PodSpec", "volumes", "Volumes the pod's containers can mount."),
    ("PodSpec", "restartPolicy", "When containers are restarted: Always, OnFailure or Never."),
    ("PodSpec", "serviceAccountName", "The service account the pod runs as."),
    ("PodSpec", "nodeSelector", "Labels a node must have for the pod to be scheduled on it."),
    ("PodSpec", "tolerations", "Taints the pod tolerates."),
    ("PodSpec", "terminationGracePeriodSeconds", "Seconds the pod is given to stop gracefully."),
    ("Container", "name", "The container's name, unique within the pod."),
    ("Container", "image", "The container image to run."),
    ("Container", "command", "The entrypoint; replaces the image's ENTRYPOINT."),
    ("Container", "args", "Arguments to the entrypoint; replace the image's CMD."),
    ("Container", "ports", "Ports the container exposes, for information and naming."),
    ("Container", "env", "Environment variables set in the container."),
    ("Container", "resources", "Compute resources requested by and limited for the container."),
    ("Container", "imagePullPolicy", "When the image is pulled: Always, IfNotPresent or Never."),
    ("Container", "livenessProbe", "A check whose failure restarts the container."),
    ("Container", "readinessProbe", "A check whose failure takes the pod out of service endpoints."),
    ("Container", "volumeMounts", "Volumes mounted into the container's filesystem."),
    ("ContainerPort", "containerPort", "The port number on the pod's IP."),
    ("ContainerPort", "name", "A name for the port that services can refer to."),
    ("ContainerPort", "protocol", "TCP, UDP or SCTP. Defaults to TCP."),
    ("ServiceSpec", "type", "ClusterIP, NodePort, LoadBalancer or ExternalName."),
    ("ServiceSpec", "selector", "Labels of the pods the service sends traffic to."),
    ("ServiceSpec", "ports", "The ports the service exposes."),
    ("ServicePort", "port", "The port the service listens on."),
    ("ServicePort", "targetPort", "The pod port (number or name) traffic is sent to. Defaults to port."),
    ("ObjectMeta", "name", "The object's name, unique per kind within its namespace."),
    ("ObjectMeta", "namespace", "The namespace the object lives in."),
    ("ObjectMeta", "labels", "Key-value pairs used to select and organise objects."),
    ("ObjectMeta", "annotations", "Key-value pairs for tools and people; not used for selection."),
    ("LabelSelector", "matchLabels", "Labels an object must have, exactly."),
    ("LabelSelector", "matchExpressions", "Requirements on labels (In, NotIn, Exists, DoesNotExist)."),
    ("JobSpec", "completions", "How many pods must finish successfully."),
    ("JobSpec", "parallelism", "How many pods may run at once."),
    ("JobSpec", "backoffLimit", "How many retries before the job is marked failed."),
    ("PodDisruptionBudgetSpec", "minAvailable", "Pods that must stay available (number or percent)."),
    ("PodDisruptionBudgetSpec", "maxUnavailable", "Pods that may be unavailable (number or percent)."),
    ("HorizontalPodAutoscalerSpec", "minReplicas", "The lowest replica count the autoscaler sets."),
    ("HorizontalPodAutoscalerSpec", "maxReplicas", "The highest replica count the autoscaler sets."),
    ("HorizontalPodAutoscalerSpec", "scaleTargetRef", "The workload whose replicas are scaled."),
];

/// The description of a message, if written.
pub fn message_doc(short_name: &str) -> Option<&'static str> {
    MESSAGES.iter().find(|(m, _)| *m == short_name).map(|(_, d)| *d)
}

/// The description of a field of a message, if written.
pub fn field_doc(short_name: &str, field: &str) -> Option<&'static str> {
    let exact = FIELDS.iter().find(|(m, f, _)| *m == short_name && *f == field);
    let any = || FIELDS.iter().find(|(m, f, _)| *m == "*" && *f == field);
    exact.or_else(any).map(|(_, _, d)| *d)
}
