module github.com/locust-k8s-operator/hack/images

go 1.23
