package chaos_test

import (
	"os"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

func amqpURL() string {
	if u := os.Getenv("EVENTFOLD_TEST_AMQP_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

var rabbitService = service{name: "RabbitMQ", probe: probeRabbitMQ, stop: stopRabbitMQ, start: startRabbitMQ}

// probeRabbitMQ opens an AMQP connection and a channel, bounded in time.
func probeRabbitMQ() error {
	conn, err := amqp091.DialConfig(amqpURL(), amqp091.Config{Dial: amqp091.DefaultDial(2 * time.Second)})
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	return ch.Close()
}

// stopRabbitMQ stops the RabbitMQ application but keeps its Erlang node
// running: every connection is closed and every queue process ends, and
// startRabbitMQ recovers the durable queues and their persistent messages
// from disk, as after a restart of the server. It takes seconds where
// stopping and booting the node takes tens of them.
func stopRabbitMQ() error { return command("rabbitmqctl", "stop_app") }

// startRabbitMQ starts the application again, or the whole server, as
// scripts/services.sh does, if the node is not running.
func startRabbitMQ() error {
	if err := command("rabbitmqctl", "start_app"); err != nil {
		if err2 := command("rabbitmq-server", "-detached"); err2 != nil {
			return err
		}
	}
	return nil
}
