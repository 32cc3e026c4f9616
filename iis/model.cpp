#include "iis/model.hpp"
