module nomad_iis/bench

go 1.26

require github.com/hashicorp/go-hclog v1.6.3
