# Three copies of the sample site, each on its own dynamic port, with
# runtime interpolation in the config and a restart policy that gives up
# after two quick failures.
job "web-farm" {
  type = "service"

  group "web" {
    count = 3

    network {
      port "http" {}
    }

    restart {
      attempts = 2
      interval = "1m"
      delay    = "1s"
      mode     = "fail"
    }

    task "site" {
      driver = "iis"

      config {
        application_pool {
          name = "farm"
        }
        application {
          path             = "local"
          application_pool = "farm"
        }
        binding {
          type = "http"
          port = "http"
        }
      }

      env {
        INSTANCE = "${NOMAD_ALLOC_INDEX}"
      }

      artifact {
        source      = "../static-app"
        destination = "local/"
      }

      resources {
        cpu    = 50
        memory = 64
      }
    }
  }
}
