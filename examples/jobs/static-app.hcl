# The bundled sample static app as an HCL job file (the same job as
# static-app.json). Run it with: nomad-iis-host job run examples/jobs/static-app.hcl
job "static-app" {
  datacenters = ["*"]
  type        = "service"

  meta {
    example = "static-app"
  }

  group "web" {
    count = 1

    network {
      port "httplabel" {}
    }

    restart {
      attempts = 3
      interval = "5m"
      delay    = "2s"
      mode     = "fail"
    }

    task "app" {
      driver = "iis"

      config {
        application_pool {
          name     = "default"
          identity = "ApplicationPoolIdentity"
        }
        application {
          path = "local"
        }
        binding {
          type = "http"
          port = "httplabel"
        }
      }

      env {
        GREETING = "hello from nomad-iis-host"
      }

      # Relative local sources are resolved against the job file's folder
      # by `nomad-iis-host job run`.
      artifact {
        source      = "../static-app"
        destination = "local/"
      }

      resources {
        cpu    = 100
        memory = 128
      }

      kill_timeout = "5s"
    }
  }
}
