#include "ballast/app/commands.h"

int main(int argc, char** argv) { return ballast::app::Main(argc, argv); }
