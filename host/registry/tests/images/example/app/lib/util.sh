util() { echo util; }
