// ConvertToWif@1 entry: the agent runs this file. Everything is wired in src/main.ts.
import { main } from './src/main';

void main(__dirname);
